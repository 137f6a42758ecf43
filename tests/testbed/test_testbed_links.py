"""Pure logic of the testbed: tc command construction, naming, addressing, the state file."""

from __future__ import annotations

from pathlib import Path

import pytest

from galileo.errors import ValidationError
from galileo.testbed.links import LinkSpec, clear_commands, shape_commands
from galileo.testbed.state import (
    HostState,
    ProcessState,
    TestbedState,
    check_prefix,
    host_address,
    owned_namespace,
)


def test_netem_with_jitter_and_loss_and_a_tbf_child_for_the_rate() -> None:
    spec = LinkSpec.parse(delay="10ms", jitter="2ms", loss="0.1%", rate="100mbit")
    assert shape_commands("eth0", spec) == [
        ["tc", "qdisc", "add", "dev", "eth0", "root", "handle", "1:",
         "netem", "delay", "10ms", "2ms", "loss", "0.1%"],
        ["tc", "qdisc", "add", "dev", "eth0", "parent", "1:1", "handle", "10:",
         "tbf", "rate", "100000000bit", "burst", "125000", "latency", "200ms"],
    ]
    assert spec.describe() == "delay 10ms ±2ms, loss 0.1%, rate 100mbit"
    assert spec.needs_netem and spec.shaped


def test_rate_alone_needs_no_netem_and_small_rates_keep_a_two_frame_burst() -> None:
    spec = LinkSpec.parse(rate="1mbit")
    assert not spec.needs_netem
    assert shape_commands("pico1", spec) == [
        ["tc", "qdisc", "add", "dev", "pico1", "root", "handle", "1:",
         "tbf", "rate", "1000000bit", "burst", "3200", "latency", "200ms"]]
    assert LinkSpec.parse(delay="500us").describe() == "delay 500us"
    assert shape_commands("eth0", LinkSpec.parse(loss="1%"))[0][-3:] == ["netem", "loss", "1%"]


def test_an_unshaped_link_only_clears() -> None:
    spec = LinkSpec.parse()
    assert shape_commands("eth0", spec) == [] and not spec.shaped
    assert spec.describe() == "unshaped"
    assert clear_commands("eth0") == [["tc", "qdisc", "del", "dev", "eth0", "root"]]
    assert LinkSpec.from_dict(LinkSpec.parse(rate="1gbit").to_dict()).rate_bps == 10**9


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"delay": "10"}, "--delay '10' is not a duration"),
    ({"delay": "ten ms"}, "--delay 'ten ms'"),
    ({"jitter": "2ms"}, "--jitter needs a --delay"),
    ({"loss": "0.1"}, "--loss '0.1' is not a percentage"),
    ({"loss": "150%"}, "--loss '150%'"),
    ({"rate": "100mb"}, "--rate '100mb' is not a rate"),
])
def test_malformed_values_are_one_sentence(kwargs: dict[str, str], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        LinkSpec.parse(**kwargs)


def test_names_and_addresses() -> None:
    assert check_prefix("pico") == "pico"
    for bad in ("Pico", "pico-", "1pi", "waytoolongprefix", ""):
        with pytest.raises(ValidationError, match="--prefix"):
            check_prefix(bad)
    owned = ["pico1", "pico12", "pico-ctl", "pico-sw"]
    assert all(owned_namespace("pico", n) for n in owned)
    assert not any(owned_namespace("pico", n) for n in ("picox", "pic1", "pico", "pico1a",
                                                         "xpico1", "pico-swx"))
    assert not owned_namespace("pic", "pico1")
    assert host_address("10.213.0.0/24", 0) == "10.213.0.1"
    assert host_address("10.213.0.0/24", 3) == "10.213.0.13"


def test_state_file_round_trip_and_unknown_hosts(tmp_path: Path) -> None:
    state = TestbedState(prefix="pico", directory=str(tmp_path), subnet="10.213.0.0/24",
                         namespaces=["pico-sw"])
    state.control = HostState(name="pico-ctl", address="10.213.0.1")
    state.hosts = [HostState(name="pico1", address="10.213.0.11", zone="a",
                             link=LinkSpec.parse(rate="1mbit").to_dict())]
    state.processes = [ProcessState(host="pico1", role="worker", pid=42, cmd=["x"], log="l")]
    state.save()
    loaded = TestbedState.load(tmp_path / "state.json")
    assert loaded == state
    assert loaded.host("control") is loaded.control
    assert loaded.host("pico1").link_spec.rate_bps == 1_000_000
    assert [p.pid for p in loaded.processes_of("pico1")] == [42]
    with pytest.raises(ValidationError, match=r"unknown testbed host 'pico7' \(hosts: control, "
                                              r"pico1\)"):
        loaded.host("pico7")


def test_a_damaged_state_file_is_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    for text in ("{not json", '{"prefix": "pico"}', "[]"):
        path.write_text(text)
        with pytest.raises(ValidationError, match=r"state file .* is unreadable"):
            TestbedState.load(path)
