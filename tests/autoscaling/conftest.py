"""Autoscaling test rig: the services rig (real node agents and a reconciler, from
tests/services/conftest.py) plus a real worker and recorder (subprocesses), all named with the
prefix ``gas`` and stopped after the test."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from galileo.control.galileo import Galileo
from galileo.localenv import ProcessGroup
from galileo.settings import Settings

_SERVICES = Path(__file__).resolve().parents[1] / "services"
sys.path.insert(0, str(_SERVICES))  # svchelpers, imported by the services rig
_spec = importlib.util.spec_from_file_location("gas_services_rig", _SERVICES / "conftest.py")
assert _spec is not None and _spec.loader is not None
_rig = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_rig)

start_agent = _rig.start_agent  # the services rig's fixtures, reused as they are
reconciler = _rig.reconciler
g = _rig.g


@pytest.fixture
def load_cluster(settings: Settings) -> Iterator[str]:
    """A real worker (``gas-w-…``) and a recorder; yields the worker's name."""
    from svchelpers import wait_until

    name = f"gas-w-{settings.namespace[-6:]}"
    procs = ProcessGroup(settings)
    client = Galileo(settings)
    try:
        procs.start("worker", ["worker", "--name", name, "--processes", "1"])
        procs.start("recorder", ["recorder"])
        wait_until(lambda: [w.name for w in client.workers()] == [name], 30, "the worker")
        yield name
    finally:
        procs.stop_all()
        client.close()
