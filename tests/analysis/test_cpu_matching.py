"""``cpu_per_request`` matches services to CPU telemetry explicitly: a service whose process
name differs is named in an error, never reported as 0 requests (issue 13)."""

from __future__ import annotations

import pytest
from test_analysis import cpu, fill

from galileo import analysis
from galileo.errors import ValidationError
from galileo.storage import ExpDB


def test_unmatched_service_names_what_did_not_match(sqlite_url: str) -> None:
    with ExpDB(sqlite_url) as db:
        fill(db, "m", {"kv": 10, "checksum": 5}, {"kv": 2.0, "checksum": 10.0})
        db.insert_telemetry("m", cpu("n1", "proc_cpu", "python3", [0, 20, 20]))
        data = analysis.load("m", db=db)
        # kv ran as a process called python3: drop its samples named after the service
        data.telemetry = data.telemetry[data.telemetry["subsystem"] != "kv"]
        with pytest.raises(ValidationError) as e:
            analysis.cpu_per_request(data)
        assert str(e.value) == (
            "cpu_per_request: no process/container CPU telemetry for 'kv'; names in the "
            "telemetry: 'checksum', 'python3'; map them with services={service: name}")
        mapped = analysis.cpu_per_request(data, {"kv": "python3", "checksum": "checksum"})
        assert mapped.loc["kv", "cpu_s"] == pytest.approx(0.4)
        assert mapped.loc["kv", "requests"] > 0
        with pytest.raises(ValidationError, match=r"'kv' \(looked for 'java'\)"):
            analysis.cpu_per_request(data, {"kv": "java"})
        with pytest.raises(ValidationError, match="no traces of service\\(s\\) nginx"):
            analysis.cpu_per_request(data, {"nginx": "python3"})
