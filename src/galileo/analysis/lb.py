"""lb traces of one experiment as a DataFrame, and the per-policy latency split.

``lb_frame``: one row per request a ``galileo lb`` proxied, index ``received`` (UTC), with
``lb_ms`` (response written − head read), ``upstream_ms`` (backend response end − request sent
to it) and ``overhead_ms`` (their difference: the proxy's own time, queueing included).
``policy_summary``: per balancer and policy, requests, failures and p50/p99 of the three.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from galileo.protocol import request_failed
from galileo.storage import ExpDB

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["lb_frame", "policy_summary"]

CATEGORIES = ("lb", "service", "backend", "policy", "method", "error")


def lb_frame(db: ExpDB, exp_id: str) -> pd.DataFrame:
    """The lb traces of ``exp_id`` (empty frame with the columns when there are none)."""
    import pandas as pd

    from galileo.storage.schema import LB_TRACE_COLUMNS

    df = pd.DataFrame(db.lb_traces(exp_id), columns=list(LB_TRACE_COLUMNS))
    for col in ("received_ns", "upstream_sent_ns", "upstream_done_ns", "done_ns"):
        df[col] = df[col].astype("int64")
    for col in CATEGORIES:
        df[col] = df[col].astype("category")
    answered = df["upstream_done_ns"] > 0
    df["lb_ms"] = (df["done_ns"] - df["received_ns"]) / 1e6
    df["upstream_ms"] = ((df["upstream_done_ns"] - df["upstream_sent_ns"]) / 1e6).where(answered)
    df["overhead_ms"] = df["lb_ms"] - df["upstream_ms"]
    df["failed"] = request_failed(df["status"], df["error"].astype(str))
    df.index = pd.DatetimeIndex(pd.to_datetime(df["received_ns"], unit="ns", utc=True),
                                name="received")
    return df


def policy_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (lb, policy): requests, failed, and p50/p99 of lb_ms, upstream_ms, overhead_ms."""
    import pandas as pd

    rows = []
    for (lb, policy), part in frame.groupby(["lb", "policy"], observed=True):
        ok = part[~part["failed"]]
        row = {"lb": lb, "policy": policy, "requests": len(part),
               "failed": int(part["failed"].sum())}
        for col in ("lb_ms", "upstream_ms", "overhead_ms"):
            row[f"{col[:-3]}_p50_ms"] = ok[col].quantile(0.5) if len(ok) else None
            row[f"{col[:-3]}_p99_ms"] = ok[col].quantile(0.99) if len(ok) else None
        rows.append(row)
    return pd.DataFrame(rows)
