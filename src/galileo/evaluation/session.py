"""A measuring session on a running testbed: attach, connect, pin, start the load worker."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from galileo.control import Galileo
from galileo.evaluation.rig import Cores, host_quota_note, rig
from galileo.testbed import Testbed


@dataclass
class Session:
    testbed: Testbed
    g: Galileo
    worker: str
    note: str  # a sentence about the hosts' quotas, or ''

    @property
    def hosts(self) -> list[str]:
        return self.testbed.hosts


@contextlib.contextmanager
def testbed_session(data_dir: Path, prefix: str, cores: Cores) -> Iterator[Session]:
    """The testbed ``prefix`` under ``data_dir`` (one sentence when none is up or its hosts
    have no CPU quota), pinned by :func:`~galileo.evaluation.rig.rig`."""
    tb = Testbed.attach(data_dir, prefix)
    note = host_quota_note(tb, cores)
    with Galileo.from_settings(tb.settings()) as g, \
            rig(tb, g, cores, f"{prefix}-load-{os.getpid()}") as worker:
        yield Session(tb, g, worker, note)
