"""``galileo telemd`` as a real process: it registers, streams samples, leaves on SIGTERM."""

from __future__ import annotations

import redis

from galileo.localenv import ProcessGroup
from galileo.protocol import Keys, decode_telemetry_batch
from galileo.settings import Settings
from galileo.telemetry import Telemd


def test_telemd_process_streams_samples(settings: Settings, redis_client: redis.Redis,
                                        node: str) -> None:
    keys = Keys(settings.namespace)
    with ProcessGroup(settings) as procs:
        procs.start("telemd", ["telemd", "--node", node, "--period", "0.2", "--no-topics",
                               "--instruments", "cpu,ram,load"])
        got = redis_client.xread({keys.telemetry: "0"}, count=1, block=20_000)
        assert got, "no telemetry from the telemd process"
        batch = decode_telemetry_batch(got[0][1][0][1][b"t"])
        assert batch.node == node
        assert {s.metric for s in batch.samples} >= {"ram", "load1"}
        assert Telemd(redis_client, keys).nodes() == [node]
        assert procs.stop("telemd") == 0
    assert Telemd(redis_client, keys).nodes() == []


def test_bad_option_is_one_clear_error(settings: Settings) -> None:
    with ProcessGroup(settings) as procs:
        proc = procs.start("telemd-bad", ["telemd", "--instruments", "cpu,warp"])
        assert proc.wait(30) == 2
    log = (procs.log_dir / "telemd-bad.log").read_text()
    assert "error: unknown telemetry instrument 'warp'" in log
    assert "Traceback" not in log
