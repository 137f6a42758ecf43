"""What the API talks to: the experiment service, the controller and the expdb.

Each is built on first use (not at import, not at app creation: ``galileo api --help`` and the
OpenAPI schema need neither Redis nor a database) and closed when the app shuts down.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

from galileo.experiments.facade import ExperimentsAPI, StatusView
from galileo.settings import Settings

if TYPE_CHECKING:
    from galileo.control import Galileo
    from galileo.storage import ExpDB

__all__ = ["ExperimentsAPI", "Resources", "StatusView"]


class Resources:
    """Lazily built, thread-safe handles shared by all requests of one app (or gRPC server)."""

    def __init__(self, settings: Settings, *, service: ExperimentsAPI | None = None,
                 galileo: Galileo | None = None, expdb: ExpDB | None = None) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._service = service
        self._galileo = galileo
        self._expdb = expdb
        self._owned: list[Any] = []

    def expdb(self) -> ExpDB:
        with self._lock:
            if self._expdb is None:
                from galileo.storage import ExpDB

                self._expdb = ExpDB.from_settings(self.settings)
                self._owned.append(self._expdb)
            return self._expdb

    def service(self) -> ExperimentsAPI:
        expdb = self.expdb()
        with self._lock:
            if self._service is None:
                from galileo.experiments.service import ExperimentService

                self._service = ExperimentService(self.settings, expdb)
                self._owned.insert(0, self._service)
            return self._service

    def galileo(self) -> Galileo:
        with self._lock:
            if self._galileo is None:
                from galileo.control import Galileo

                self._galileo = Galileo(self.settings)
                self._owned.append(self._galileo)
            return self._galileo

    def close(self) -> None:
        """Close what this object built (injected handles belong to the caller)."""
        with self._lock:
            owned, self._owned = self._owned, []
            if self._service in owned:
                self._service = None
            if self._galileo in owned:
                self._galileo = None
            if self._expdb in owned:
                self._expdb = None
        for thing in owned:
            with contextlib.suppress(Exception):
                thing.close()
