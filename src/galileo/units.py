"""Parsing of human-written quantities with units: durations (``10ms``), percentages (``0.1%``)
and bit rates (``100mbit``), in the spelling ``tc`` uses. One home for every option that takes
them (``galileo app serve --delay``, ``galileo testbed --delay/--loss/--rate``)."""

from __future__ import annotations

import math
import re
from typing import Final

from galileo.errors import ValidationError

__all__ = ["format_duration", "parse_duration_s", "parse_percent", "parse_rate_bps"]

_NUMBER: Final = r"(\d+(?:\.\d*)?|\.\d+)"
_DURATION_RE: Final = re.compile(rf"^{_NUMBER}\s*(us|ms|s)$")
_PERCENT_RE: Final = re.compile(rf"^{_NUMBER}\s*%$")
_RATE_RE: Final = re.compile(rf"^{_NUMBER}\s*(bit|kbit|mbit|gbit|bps|kbps|mbps|gbps)$")

DURATION_UNITS_S: Final = {"us": 1e-6, "ms": 1e-3, "s": 1.0}
RATE_UNITS_BPS: Final = {
    "bit": 1, "kbit": 1_000, "mbit": 1_000_000, "gbit": 1_000_000_000,
    "bps": 8, "kbps": 8_000, "mbps": 8_000_000, "gbps": 8_000_000_000,  # tc: bps = bytes/s
}
MAX_DURATION_S: Final = 3600.0


def parse_duration_s(text: str, what: str) -> float:
    """``"10ms"`` -> ``0.01``. Units ``us``, ``ms``, ``s``; ``what`` names the option in errors."""
    m = _DURATION_RE.match(text.strip().lower())
    if not m:
        raise ValidationError(f"{what} {text!r} is not a duration like 10ms, 500us or 1s.")
    value = float(m.group(1)) * DURATION_UNITS_S[m.group(2)]
    if not math.isfinite(value) or value > MAX_DURATION_S:
        raise ValidationError(f"{what} {text!r} is longer than {MAX_DURATION_S:.0f} s.")
    return value


def parse_percent(text: str, what: str) -> float:
    """``"0.1%"`` -> ``0.1`` (a percentage between 0 and 100)."""
    m = _PERCENT_RE.match(text.strip())
    if not m or float(m.group(1)) > 100:
        raise ValidationError(f"{what} {text!r} is not a percentage between 0% and 100%.")
    return float(m.group(1))


def parse_rate_bps(text: str, what: str) -> int:
    """``"100mbit"`` -> ``100_000_000`` bits per second (``kbps`` etc. are bytes, as in tc)."""
    m = _RATE_RE.match(text.strip().lower())
    if not m:
        raise ValidationError(f"{what} {text!r} is not a rate like 1mbit, 100mbit or 1gbit.")
    bps = round(float(m.group(1)) * RATE_UNITS_BPS[m.group(2)])
    if bps < 8_000:
        raise ValidationError(f"{what} {text!r} is below 8kbit, too slow for a link.")
    return bps


def format_duration(seconds: float) -> str:
    """``0.01`` -> ``"10ms"``, ``0.0005`` -> ``"500us"`` (whole microseconds)."""
    us = round(seconds * 1e6)
    if us % 1000:
        return f"{us}us"
    if us % 1_000_000 or us == 0:
        return f"{us // 1000}ms"
    return f"{us // 1_000_000}s"
