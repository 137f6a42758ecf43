"""The client-app repository served for real: ``galileo api`` (uvicorn, a thread, a free
loopback port) over the test Redis and a temporary SQLite expdb, with an API token."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from appkit import TOKEN, hello_app

from galileo.settings import Settings
from waiting import until


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return Settings.model_validate({**settings.model_dump(), "api_token": TOKEN})


@pytest.fixture
def api_url(api_settings: Settings) -> Iterator[str]:
    import uvicorn

    from galileo.localenv import free_port
    from galileo.web import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(api_settings), host="127.0.0.1",
                                           port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        until(lambda: server.started, 30, "the API server")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def app_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "hello"
    folder.mkdir()
    for name, text in hello_app().items():
        (folder / name).write_text(text)
    return folder
