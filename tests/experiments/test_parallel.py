"""Two runners (real ``galileo runner`` processes, concurrency 1 each) take two experiments in
parallel; a third waits for a free slot."""

from __future__ import annotations

from jobhelpers import until

from galileo.experiments.service import ExperimentService
from galileo.localenv import ProcessGroup
from galileo.settings import Settings


def test_two_runners_two_parallel_third_waits(settings: Settings,
                                              service: ExperimentService) -> None:
    ids = [service.submit(script="sleep 2.5\n", name=f"p{i}").id for i in range(3)]

    def states() -> list[str]:
        return [service.status(i).status for i in ids]

    with ProcessGroup(settings) as procs:
        for n in (1, 2):
            procs.start(f"runner-{n}", ["runner", "--concurrency", "1", "--name", f"r{n}"])
        until(lambda: states().count("RUNNING") == 2, 30, "two experiments running")
        assert states().count("QUEUED") == 1  # the third waits for a free slot
        until(lambda: states() == ["FINISHED"] * 3, 30, "all three finished")
    runs = sorted((service.get(i) for i in ids), key=lambda e: e.start or 0)
    assert runs[0].end is not None and runs[1].start is not None and runs[2].start is not None
    assert runs[1].start < runs[0].end  # the first two overlapped
    assert runs[2].start >= min(runs[0].end, runs[1].end or 0) - 0.5  # the third waited
