"""``galileo worker --generators PATH`` (issue 13): a folder of user generators is put on the
worker's import path and its modules allowed -- no PYTHONPATH, nothing else opened up."""

from __future__ import annotations

from pathlib import Path

import pytest

from galileo.control import Galileo
from galileo.errors import ValidationError, WorkerError
from galileo.load.localserver import LocalServer
from galileo.localenv import ProcessGroup
from galileo.settings import Settings
from galileo.worker.generators import modules_in
from waiting import until

GENERATOR = """\
class Paths:
    def __init__(self, prefix="/p"):
        self.prefix, self.i = prefix, 0

    def next_request(self):
        self.i += 1
        return {"path": f"{self.prefix}/{self.i % 3}"}
"""


def test_worker_runs_generators_from_a_folder(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "gens"
    (folder / "mypkg").mkdir(parents=True)
    (folder / "mygen.py").write_text(GENERATOR)
    (folder / "mypkg" / "__init__.py").write_text(GENERATOR)
    assert modules_in(folder) == ["mygen", "mypkg"]
    with ProcessGroup(settings) as procs, LocalServer() as http, \
            Galileo.from_settings(settings) as g:
        procs.start("worker", ["worker", "--name", "gp", "--processes", "1",
                               "--generators", str(folder)])
        until(lambda: [w.name for w in g.workers()] == ["gp"], 30, "the worker")
        g.rtbl.set("api", [http.address])
        group = g.spawn("api", 1, rps=100, request={"generator": "mygen:Paths",
                                                    "generator_args": {"prefix": "/x"}})
        until(lambda: http.requests >= 10, 30, "requests from the folder's generator")
        group.close()
        with pytest.raises(WorkerError, match="generator os:getcwd is not allowed"):
            g.spawn("api", 1, request={"generator": "os:getcwd"})


def test_generators_path_must_be_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="not a directory"):
        modules_in(tmp_path / "missing")
