"""Client apps on a real worker (in-process, one real load process): run only where the
operator allowed ``apps``; fetched from the repository and loaded; the user gets one line
naming a bad argument. Traces are checked, not just the reply."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from appkit import TOKEN, hello_app, make_zip

from galileo.control import Galileo
from galileo.errors import WorkerError
from galileo.load.httpclient import new_event_loop
from galileo.load.localserver import LocalServer
from galileo.settings import Settings
from galileo.worker.apps import AppRepositoryClient
from waiting import until


def _worker(settings: Settings) -> Iterator[str]:
    from galileo.worker import Worker

    loop = new_event_loop()
    worker = Worker(settings, processes=1)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(worker.start(), loop).result(30)
        yield settings.worker_name
    finally:
        asyncio.run_coroutine_threadsafe(worker.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture
def apps_worker(api_settings: Settings, api_url: str) -> Iterator[str]:
    yield from _worker(api_settings.model_copy(update={
        "worker_generators": "builtin,apps", "apps_repository": api_url}))


def test_app_runs_on_a_worker_that_allows_apps(api_settings: Settings, api_url: str,
                                               apps_worker: str) -> None:
    AppRepositoryClient(api_url, TOKEN).upload(make_zip(hello_app()))
    with LocalServer() as http, Galileo.from_settings(api_settings) as g:
        g.rtbl.set("echo", [http.address])
        with pytest.raises(WorkerError) as bad:
            g.spawn("echo", 1, request={"generator": "app:hello",
                                        "generator_args": {"nope": 1}})
        assert "\n" not in str(bad.value) and "'nope'" in str(bad.value)
        assert "unexpected keyword argument 'nope'" in str(bad.value)
        group = g.spawn("echo", 1, rps=100, request={"generator": "app:hello",
                                                      "generator_args": {"size": 4}})
        until(lambda: http.requests >= 20, 30, "requests from the client app")
        group.close()
        missing = "no client app named 'ghost'"
        with pytest.raises(WorkerError, match=missing):
            g.spawn("echo", 1, request={"generator": "app:ghost"})


@pytest.mark.usefixtures("routed")  # spawn refuses unrouted services
def test_app_is_refused_where_apps_are_not_allowed(settings: Settings) -> None:
    worker = _worker(settings)
    next(worker)
    try:
        with Galileo.from_settings(settings) as g, pytest.raises(WorkerError) as refused:
            g.spawn("echo", 1, request={"generator": "app:hello"})
        assert "generator app:hello is a client app, and client apps are not allowed" in str(
            refused.value)
    finally:
        next(worker, None)
