"""Settings from ``galileo_*`` variables and the working directory's ``.env`` file."""

from __future__ import annotations

from pathlib import Path

import pytest

from galileo.errors import ConfigError
from galileo.settings import Settings


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    import os

    for key in list(os.environ):
        if key.lower().startswith("galileo_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_the_environment_wins_over_the_env_file(clean_env: pytest.MonkeyPatch) -> None:
    Path(".env").write_text("galileo_redis_port=7000\nGALILEO_NAMESPACE=fromfile\n"
                            "galileo_api_port=6000\ngalileo_label_zone=eu\n")
    clean_env.setenv("GALILEO_API_PORT", "6100")  # any case
    clean_env.setenv("galileo_labels", '{"rack": "r1"}')
    clean_env.setenv("galileo_log_level", "debug")
    clean_env.setenv("galileo_unrelated_thing", "x")  # ignored, as any unknown variable
    s = Settings.from_env()
    assert (s.redis_port, s.namespace, s.api_port, s.log_level) == (7000, "fromfile", 6100,
                                                                    "DEBUG")
    assert s.labels == {"rack": "r1", "zone": "eu"}


def test_defaults_without_any_variable(clean_env: pytest.MonkeyPatch) -> None:
    s = Settings.from_env()
    assert (s.redis_url, s.namespace, s.api_port, s.labels) == (None, "galileo", 5001, {})
    assert s.embedded_redis


@pytest.mark.parametrize(("key", "value", "message"), [
    ("galileo_redis_port", "many", "galileo_redis_port"),
    ("galileo_namespace", "a:b", "galileo_namespace"),
    ("galileo_labels", "zone=eu", "galileo_labels is not a JSON object"),
    ("galileo_redis_connect_timeout_s", "0", "galileo_redis_connect_timeout_s"),
])
def test_a_bad_value_names_its_variable(clean_env: pytest.MonkeyPatch, key: str, value: str,
                                        message: str) -> None:
    clean_env.setenv(key, value)
    with pytest.raises(ConfigError, match=message):
        Settings.from_env()


def test_an_explicit_mapping_ignores_the_process_environment(
        clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("galileo_api_port", "6100")
    Path(".env").write_text("galileo_grpc_port=1\n")
    s = Settings.from_env({"galileo_redis_port": "7001"})
    assert (s.redis_port, s.api_port, s.grpc_port) == (7001, 5001, 50051)
