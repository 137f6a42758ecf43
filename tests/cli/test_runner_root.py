"""A runner started as root says so in Galileo's one line, not Celery's warning."""

from __future__ import annotations

import os
import signal

import pytest

from cliprocess import galileo_env, serving
from galileo import bus
from galileo.cli.experiments import ROOT_RUNNER_WARNING
from galileo.settings import Settings
from waiting import until


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (the warning is for root)")
def test_root_runner_warns_in_one_line(settings: Settings) -> None:
    client = bus.connect(settings)
    try:
        with serving(["runner"], galileo_env(settings)) as proc:
            # ready: it declared its queue's binding on the broker
            binding = f"_kombu.binding.{settings.namespace}.experiments"
            until(lambda: client.exists(binding), 60, "the runner to bind its queue")
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
    finally:
        client.delete(f"_kombu.binding.{settings.namespace}.experiments")
        client.close()
    assert ROOT_RUNNER_WARNING in err.splitlines()
    assert "absolutely not recommended" not in err
    assert "SecurityWarning" not in err
