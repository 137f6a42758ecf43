"""Experiment-job fixtures: a real app server (thread), a real ``galileo worker`` and
``galileo recorder`` (subprocesses), and Celery test workers on the real Redis broker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
from jobhelpers import until

from galileo.apps.background import start_in_thread
from galileo.control.galileo import Galileo
from galileo.experiments.tasks import make_app
from galileo.localenv import ProcessGroup
from galileo.settings import Settings


@pytest.fixture
def app_host() -> Iterator[str]:
    server = start_in_thread(("echo",))
    yield f"{server.host}:{server.port}"
    server.stop()


@pytest.fixture
def cluster(settings: Settings) -> Iterator[ProcessGroup]:
    """One real worker and a recorder (subprocesses) on the test Redis and expdb."""
    procs = ProcessGroup(settings)
    g = Galileo.from_settings(settings)
    try:
        procs.start("worker", ["worker", "--name", "job-worker", "--processes", "1"])
        procs.start("recorder", ["recorder"])
        until(lambda: [w.name for w in g.workers()] == ["job-worker"], 30, "the worker")
        yield procs
    finally:
        procs.stop_all()
        g.close()


@pytest.fixture
def celery_runner(settings: Settings) -> Iterator[Callable[..., AbstractContextManager[Any]]]:
    """``with celery_runner(): ...`` runs an in-process Celery worker (concurrency 1)."""
    from celery.contrib.testing.worker import start_worker

    apps = []

    def start(**kwargs: Any) -> AbstractContextManager[Any]:
        app = make_app(settings)
        apps.append(app)
        return start_worker(app, pool="solo", perform_ping_check=False,  # type: ignore[no-any-return]
                            shutdown_timeout=30, **kwargs)

    yield start
    for app in apps:
        app.close()
