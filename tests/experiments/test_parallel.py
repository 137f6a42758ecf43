"""Two runners with concurrency 1 take two experiments in parallel; a third waits."""

from __future__ import annotations

from typing import Any

from conftest import until

from galileo.experiments.service import ExperimentService


def test_two_runners_two_parallel_third_waits(service: ExperimentService,
                                              celery_runner: Any) -> None:
    ids = [service.submit(script="sleep 2\n", name=f"p{i}").id for i in range(3)]

    def states() -> list[str]:
        return [service.status(i).status for i in ids]

    with celery_runner(), celery_runner():
        until(lambda: states().count("RUNNING") == 2, 15, "two experiments running")
        assert states().count("QUEUED") == 1  # the third waits for a free slot
        until(lambda: states() == ["FINISHED"] * 3, 30, "all three finished")
    first_two = sorted(ids, key=lambda i: service.get(i).start or 0)[:2]
    a, b = (service.get(i) for i in first_two)
    assert a.start is not None and b.start is not None and a.end is not None
    assert b.start < a.end  # they overlapped
