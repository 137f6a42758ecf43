"""Galileo: experiments on distributed web-service clusters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from galileo.errors import GalileoError

if TYPE_CHECKING:
    from galileo.control.galileo import Galileo
    from galileo.settings import Settings

__all__ = ["Galileo", "GalileoError", "Settings"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:  # lazy: importing galileo (and the CLI) stays light
    if name == "Galileo":
        from galileo.control.galileo import Galileo

        return Galileo
    if name == "Settings":
        from galileo.settings import Settings

        return Settings
    raise AttributeError(name)
