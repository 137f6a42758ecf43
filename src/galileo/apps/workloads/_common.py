"""Small helpers shared by the workload services."""

from __future__ import annotations

from urllib.parse import parse_qs

from galileo.apps.http import Request


class BadParam(ValueError):
    """A query/body parameter out of range; the message is the one-sentence answer."""


def int_param(req: Request, name: str, default: int, lo: int, hi: int) -> int:
    """Integer query parameter ``name`` within ``[lo, hi]`` (``default`` when absent)."""
    values = parse_qs(req.query).get(name) if req.query else None
    if not values:
        return default
    try:
        value = int(values[-1])
    except ValueError:
        raise BadParam(f"query parameter {name!r} must be an integer.") from None
    if not lo <= value <= hi:
        raise BadParam(f"query parameter {name!r} must be between {lo} and {hi}.")
    return value
