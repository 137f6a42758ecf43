"""The seed's raw LPUSH protocol, valid and malformed."""

from __future__ import annotations

import json
import uuid

import pytest
import redis

from galileo.experiments.bridge import Bridge
from galileo.experiments.service import ExperimentService
from galileo.protocol import Keys


@pytest.mark.usefixtures("routed")  # the entries spawn echo
def test_bridge_valid_and_malformed(service: ExperimentService,
                                    redis_client: redis.Redis) -> None:
    queue = Keys.SEED_INSTRUCTIONS
    bridge = Bridge(service, queue)
    exp_id = "202401010000-" + uuid.uuid4().hex[:4]
    redis_client.lpush(queue, json.dumps({"instructions": "spawn * echo 1\nsleep 1\n",
                                          "exp_id": exp_id, "creator": "seed",
                                          "name": "from-seed"}))
    exp = bridge.run_once(timeout_s=2)
    assert exp is not None and exp.id == exp_id
    assert (exp.status.value, exp.creator, exp.name) == ("QUEUED", "seed", "from-seed")

    redis_client.lpush(queue, json.dumps({"instructions": "spawn * echo 1\nfly away\n",
                                          "name": "bad"}))
    bad = bridge.run_once(timeout_s=2)
    assert bad is not None and bad.status.value == "FAILED"
    assert "line 2: unknown command 'fly'" in (bad.status_message or "")

    redis_client.lpush(queue, b"{not json")
    worse = bridge.run_once(timeout_s=2)
    assert worse is not None and worse.status.value == "FAILED"
    assert "not JSON" in (worse.status_message or "")
    assert redis_client.llen(queue) == 0
    service.cancel(exp_id)
