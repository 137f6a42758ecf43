"""How many requests a run made, sent and lost: the one definition shared by the dashboard's
live view, its list and run pages, ``galileo report`` and ``galileo exp show``.

* a **request** is one intended send (one trace);
* it was **sent** when it left the worker (:func:`~galileo.protocol.request_unsent` is false):
  a request with no route, one held back and cancelled at close, or one whose request source
  failed never left and is *unsent*;
* it **failed** when :func:`~galileo.protocol.request_failed` says so (unsent requests fail);
* the **error rate** is failed / requests.

The workers' per-second stats count the same way (``GroupStats.sent`` counts requests handed
to the network, ``errors`` every failure), so the live charts' sent/s and errors/s are the
report's. A run is shown as failed (:func:`run_outcome`) when every request failed or a
threshold failed, whatever the status its runner gave it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from galileo.storage import ExpDB, jobs, reads

NS_PER_S: Final = 1_000_000_000


@dataclass(frozen=True)
class RequestCounts:
    """Requests of one run (or one window of it), sent and failed (see the module)."""

    requests: int = 0
    sent: int = 0
    failed: int = 0

    @property
    def unsent(self) -> int:
        return self.requests - self.sent

    @property
    def error_rate(self) -> float | None:
        return self.failed / self.requests if self.requests else None

    @property
    def all_failed(self) -> bool:
        return self.requests > 0 and self.failed == self.requests

    def describe(self) -> str:
        """``1,000 requests, 980 sent, 20 failed (2.00 %)``."""
        rate = "" if self.error_rate is None else f" ({self.error_rate * 100:.2f} %)"
        return f"{self.requests:,} requests, {self.sent:,} sent, {self.failed:,} failed{rate}"


def order_rank(n: int, p: float) -> int:
    """The 0-based rank of the exact ``p`` percentile (0-100) among ``n`` sorted values: the
    smallest value with at least p % of the values at or below it (numpy's
    ``inverted_cdf``). The list's SQL probe and the report's numpy selection both use it, on
    whole microseconds, so they give the same p99."""
    return max(math.ceil(p / 100.0 * n) - 1, 0)


def request_counts(db: ExpDB, exp_ids: Sequence[str],
                   since_ns: int | None = None) -> dict[str, RequestCounts]:
    """:class:`RequestCounts` of each run (one grouped query), optionally only of the requests
    sent (or, unsent, given up) at or after ``since_ns``. Runs without traces count zero."""
    out = {e: RequestCounts() for e in exp_ids}
    for exp_id, c in reads.run_counts(db, list(exp_ids), since_ns).items():
        out[exp_id] = RequestCounts(c.requests, c.sent, c.failed)
    return out


def unsent_per_second(db: ExpDB, exp_id: str, t0_ns: int, seconds: int,
                      services: Sequence[str]) -> dict[str, np.ndarray]:
    """Unsent requests per service and second since ``t0_ns`` (by intended send time)."""
    out = {s: np.zeros(seconds, dtype=np.int64) for s in services}
    if not seconds:
        return out
    for service, sec, n in reads.unsent_per_second(db, exp_id, t0_ns, seconds):
        if service in out:
            out[service][sec] += n
    return out


@dataclass(frozen=True)
class Outcome:
    """The status a person sees: the recorded one, or FAILED with the reason."""

    status: str
    reason: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "FAILED"


def run_outcome(status: str, counts: RequestCounts, thresholds_passed: bool | None,
                window_s: int | None = None) -> Outcome:
    """FAILED when every request failed or a threshold failed (a FINISHED run included);
    otherwise the recorded status. A live run keeps its status, with a reason when every
    request (of the last ``window_s`` seconds, when ``counts`` covers only those) failed."""
    if status in ("QUEUED", "RUNNING"):
        if counts.all_failed:
            when = f"in the last {window_s} s" if window_s else "so far"
            return Outcome(status, f"every request {when} failed ({counts.failed:,})")
        return Outcome(status)
    if counts.all_failed:
        return Outcome("FAILED", f"all {counts.requests:,} requests failed")
    if thresholds_passed is False:
        return Outcome("FAILED", "a threshold failed")
    return Outcome(status)


def thresholds_passed(db: ExpDB, exp_ids: Sequence[str]) -> dict[str, bool | None]:
    """Whether each run's thresholds passed (None: it had none, or none were judged yet)."""
    ids = list(exp_ids)
    verdicts = jobs.metadata_of(db, ids, "verdicts")
    out: dict[str, bool | None] = dict.fromkeys(ids)
    for exp_id, value in jobs.metadata_of(db, ids, "thresholds_passed").items():
        out[exp_id] = bool(value) if verdicts.get(exp_id) else None
    return out


def run_outcomes(db: ExpDB, runs: Sequence[tuple[str, str]]) -> dict[str, Outcome]:
    """The status a person sees for each ``(exp_id, recorded status)`` (see :func:`run_outcome`)."""
    ids = [exp_id for exp_id, _ in runs]
    counts = request_counts(db, ids)
    passed = thresholds_passed(db, ids)
    return {exp_id: run_outcome(status, counts[exp_id], passed[exp_id])
            for exp_id, status in runs}
