"""Timing defaults, name validation and ids."""

from __future__ import annotations

import logging
import re
import secrets
import time
import uuid
from collections.abc import Iterable
from typing import Final

from galileo.errors import ValidationError

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- timing defaults
HEARTBEAT_INTERVAL_S: Final = 1.0
WORKER_TTL_S: Final = 3  # a worker that stops heartbeating disappears after this
RTBL_POLL_INTERVAL_S: Final = 1.0  # fallback poll when a pub/sub update was dropped
REPLY_TTL_S: Final = 60
STATS_STREAM_MAXLEN: Final = 20_000
TRACE_BATCH_MAX: Final = 500  # traces per stream entry
TRACE_FLUSH_INTERVAL_S: Final = 0.1

# --------------------------------------------------------------------------- names
# No ``:`` (the key separator: ``group("x:stats")`` would be ``group_stats("x")``), no spaces.
NAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
_NAME_RE: Final = re.compile(NAME_PATTERN)
_reported_bad: set[tuple[str, str]] = set()  # (where, member) already logged once


def check_name(kind: str, value: str) -> str:
    """Validate a name (worker, service, group, experiment id) before it enters a key."""
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise ValidationError(
            f"invalid {kind} {value!r}: use 1-128 letters, digits or _ . - "
            "(starting with a letter or digit)"
        )
    return value


def valid_members(members: Iterable[bytes | str], kind: str, where: str) -> list[str]:
    """The members of a Redis set (read at ``where``) that are valid ``kind`` names, sorted; a
    bad one is logged once per process and skipped, never fatal."""
    out = []
    for m in members:
        name = m.decode(errors="replace") if isinstance(m, bytes) else str(m)
        try:
            out.append(check_name(kind, name))
        except ValidationError as e:
            if (where, name) not in _reported_bad:
                _reported_bad.add((where, name))
                log.warning("skipping a bad member of %s: %s", where, e)
    return sorted(out)


def new_experiment_id(now_s: float | None = None) -> str:
    """A fresh experiment id like ``202405171342-k3x9`` (local-time minute + 4 random chars)."""
    stamp = time.strftime("%Y%m%d%H%M", time.localtime(time.time() if now_s is None else now_s))
    return stamp + "-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(4))


_ID_ALPHABET: Final = "abcdefghijklmnopqrstuvwxyz0123456789"


def new_id() -> str:
    """A cluster-unique id (request ids, group ids, correlation ids)."""
    return uuid.uuid4().hex
