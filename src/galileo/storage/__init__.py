"""The experiment database (expdb): schema and repositories on SQLAlchemy Core.

SQL only -- this package knows nothing about Redis. Use :class:`ExpDB`::

    db = ExpDB.from_settings(settings)          # or ExpDB("postgresql+psycopg://...")
    db.insert_traces(batch)                     # duplicates (same request_id) are ignored
    with db.transaction() as tx:                # several writes, one commit
        tx.insert_events(events)
        tx.record_start(exp_id, at=t)           # a start event, merged in any order
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from galileo._lazy import lazy_exports

if TYPE_CHECKING:
    from galileo.protocol import new_experiment_id
    from galileo.storage.expdb import ExpDB, Transaction
    from galileo.storage.records import TERMINAL_STATUSES, Experiment, ExperimentStatus

__all__ = ["TERMINAL_STATUSES", "ExpDB", "Experiment", "ExperimentStatus", "Transaction",
           "new_experiment_id"]

__getattr__ = lazy_exports(__name__, {
    "ExpDB": "galileo.storage.expdb",
    "Experiment": "galileo.storage.records",
    "ExperimentStatus": "galileo.storage.records",
    "TERMINAL_STATUSES": "galileo.storage.records",
    "Transaction": "galileo.storage.expdb",
    "new_experiment_id": "galileo.protocol",
})
