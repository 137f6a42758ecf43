"""Loading one experiment from the experiment database as pandas DataFrames.

``traces``: one row per request, index ``sent`` (UTC timestamps from ``sent_ns``), with
``latency_ms`` (done − sent) and ``delay_ms`` (sent − intended) added; ``telemetry``: index ``ts``
(UTC), columns ``node``, ``metric``, ``subsystem``, ``value`` (units as in
``galileo.telemetry.instruments``); ``events``: index ``ts``, columns ``kind``, ``name``,
``data``. Low-cardinality text columns are categoricals; nanosecond columns stay ``int64``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from galileo.errors import NotFoundError
from galileo.storage import ExpDB, Experiment, reads

if TYPE_CHECKING:
    import pandas as pd

    from galileo.settings import Settings

TRACE_CATEGORIES = ("group_id", "worker", "service", "host", "method", "error")
TELEMETRY_CATEGORIES = ("node", "metric", "subsystem")


@dataclass
class ExperimentData:
    """Everything recorded for one experiment."""

    exp_id: str
    experiment: Experiment | None
    traces: pd.DataFrame
    telemetry: pd.DataFrame
    events: pd.DataFrame
    nodeinfo: dict[str, dict[str, str]]

    def __repr__(self) -> str:
        return (f"<ExperimentData {self.exp_id}: {len(self.traces)} traces, "
                f"{len(self.telemetry)} telemetry samples, {len(self.events)} events>")


def _frame(columns: reads.Columns) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(columns.rows, columns=columns.names)


def _time_index(df: pd.DataFrame, ns_column: str, name: str) -> pd.DataFrame:
    import pandas as pd

    df.index = pd.DatetimeIndex(pd.to_datetime(df[ns_column].astype("int64"), unit="ns",
                                               utc=True), name=name)
    return df


def traces_frame(db: ExpDB, exp_id: str) -> pd.DataFrame:
    df = _frame(reads.trace_columns(db, exp_id))
    for col in ("intended_ns", "sent_ns", "done_ns", "bytes_received"):
        df[col] = df[col].astype("int64")
    df["status"] = df["status"].astype("int32")
    for col in TRACE_CATEGORIES:
        df[col] = df[col].astype("category")
    df["latency_ms"] = (df["done_ns"] - df["sent_ns"]) / 1e6
    df["delay_ms"] = (df["sent_ns"] - df["intended_ns"]) / 1e6
    return _time_index(df, "sent_ns", "sent")


def telemetry_frame(db: ExpDB, exp_id: str) -> pd.DataFrame:
    df = _frame(reads.telemetry_columns(db, exp_id))
    df["ts_ns"] = df["ts_ns"].astype("int64")
    df["value"] = df["value"].astype("float64")
    for col in TELEMETRY_CATEGORIES:
        df[col] = df[col].astype("category")
    return _time_index(df, "ts_ns", "ts")


def events_frame(db: ExpDB, exp_id: str) -> pd.DataFrame:
    import pandas as pd

    rows = db.events(exp_id)
    df = pd.DataFrame(rows, columns=["ts_ns", "kind", "name", "data"])
    df["ts_ns"] = df["ts_ns"].astype("int64")
    df["kind"] = df["kind"].astype("category")
    return _time_index(df, "ts_ns", "ts")


def load(exp_id: str, *, db: ExpDB | None = None,
         settings: Settings | None = None) -> ExperimentData:
    """Traces, telemetry and events of ``exp_id`` (``NotFoundError`` when nothing is recorded).

    Uses ``db``, else the experiment database of ``settings`` (default: from the environment)."""
    own = db is None
    if db is None:
        from galileo.settings import Settings

        db = ExpDB.from_settings(settings or Settings.from_env())
    try:
        traces = traces_frame(db, exp_id)
        telemetry = telemetry_frame(db, exp_id)
        experiment = db.get_experiment(exp_id)
        events = events_frame(db, exp_id)
        nodeinfo = db.nodeinfo(exp_id)
    finally:
        if own:
            db.close()
    if experiment is None and traces.empty and telemetry.empty and events.empty:
        raise NotFoundError(f"experiment {exp_id!r} has nothing recorded in the experiment "
                            "database")
    return ExperimentData(exp_id, experiment, traces, telemetry, events, nodeinfo)
