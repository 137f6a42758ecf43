"""Browser fixtures: one Chromium (Debian's, driven by Playwright) and one dashboard server per
module, on the test Redis (own namespace) and a SQLite expdb. Every page is watched: a request
to any host but the dashboard, or a console error, fails the test (see browserkit.Watched)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from browserkit import CHROMIUM, CHROMIUM_ARGS, Server, Watched, ensure_browser

from galileo.settings import Settings


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    ensure_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def dash_settings(redis_url: str, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[Settings]:
    ns = "gtest-dash-" + uuid.uuid4().hex[:8]
    tmp = tmp_path_factory.mktemp("dashboard")
    yield Settings.from_env({
        "galileo_redis_url": redis_url, "galileo_namespace": ns,
        "galileo_data_dir": str(tmp / "data"),
        "galileo_expdb_sqlite_path": str(tmp / "expdb.sqlite"),
        "galileo_log_level": "INFO",
    })
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{ns}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(scope="module")
def server(dash_settings: Settings) -> Iterator[Server]:
    with Server(dash_settings) as s:
        yield s


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Watched]:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    # anything not served by the dashboard is aborted (and recorded as a failure)
    context.route("**/*", lambda route: route.continue_()
                  if route.request.url.startswith((server.url, "data:", "blob:"))
                  else route.abort())
    context.set_default_timeout(60_000)  # a loaded CI machine renders slowly
    watched = Watched(context.new_page(), (server.url, "data:", "blob:"))
    try:
        yield watched
        watched.check()
    finally:
        context.close()
