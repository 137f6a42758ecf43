"""What the job layer stores beside :class:`~galileo.storage.ExpDB`'s experiment rows: the
``metadata`` entries (scenario/script and settings as JSON), progress/stage/message updates, the
status compare-and-set and trace summaries. The SQL is storage's (:mod:`galileo.storage.jobs`);
these are the names the job layer calls."""

from __future__ import annotations

from galileo.storage.jobs import (
    TraceSummary,
    count_group_traces,
    get_metadata,
    put_metadata,
    set_status_if,
    tag_traces,
    trace_summary,
    update_progress,
)

__all__ = ["TraceSummary", "count_group_traces", "get_metadata", "put_metadata",
           "set_status_if", "tag_traces", "trace_summary", "update_progress"]
