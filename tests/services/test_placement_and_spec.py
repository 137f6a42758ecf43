"""Placement policies, their loading from an allow-list, and service specs (pure logic)."""

from __future__ import annotations

from pathlib import Path

import pytest

from galileo.errors import ConfigError, ValidationError
from galileo.protocol import NodeInfo, ServiceSpec
from galileo.services.constraints import check_deployable
from galileo.services.placement import NodeView, load_placement
from galileo.services.spec import read_services_file, service_spec

APPS = ["echo", "kv"]


def node(name: str, cpus: float = 1.0, allocated: float = 0.0, of_service: int = 0,
         used: float = 0.0, labels: dict[str, str] | None = None) -> NodeView:
    info = NodeInfo(name=name, cpus=cpus, memory=1 << 30, cpu_used=used, labels=labels or {},
                    apps=APPS)
    return NodeView(info=info, cpus_allocated=allocated, memory_allocated=0,
                    of_service=of_service, instances=of_service)


SPEC = ServiceSpec(name="kv", kind="app", what="kv", replicas=3, cpus=0.25)


def test_spread_binpack_least_loaded_choose_differently() -> None:
    nodes = [node("a", allocated=0.5, of_service=1, used=0.1),
             node("b", allocated=0.25, of_service=0, used=0.9),
             node("c", allocated=0.75, of_service=2, used=0.0)]
    assert load_placement("spread").choose(SPEC, nodes)[0].name == "b"
    assert load_placement("binpack").choose(SPEC, nodes)[0].name == "c"
    chosen, reason = load_placement("least-loaded").choose(SPEC, nodes)
    assert chosen.name == "c" and "0%" in reason


def test_a_policy_loads_only_from_an_allowed_module() -> None:
    with pytest.raises(ConfigError, match="unknown placement policy 'nope'"):
        load_placement("nope")
    with pytest.raises(ConfigError, match="not allowed"):
        load_placement("svc_policies:LastByName")
    policy = load_placement("svc_policies:LastByName", ["svc_policies"])
    assert policy.choose(SPEC, [node("a"), node("z"), node("m")])[0].name == "z"
    assert load_placement("last-by-name", ["svc_policies"]).name == "last-by-name"
    with pytest.raises(ConfigError, match="takes no options"):
        load_placement("spread,x=1")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"app": "nope"}, "unknown app 'nope'"),
    ({"app": "kv", "replicas": -1}, "replicas must be an integer >= 0"),
    ({"app": "kv", "cpus": "lots"}, "cpus 'lots' is not a number"),
    ({"app": "kv", "command": "x"}, "exactly one of app, command, image"),
    ({"app": "kv", "memory": "12 parsecs"}, "is not a size"),
    ({"app": "kv", "weights": "random"}, "weights must be equal or cpu"),
    ({"app": "kv", "health": "health"}, "must start with /"),
])
def test_bad_service_specs_are_one_sentence(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        service_spec("kv", **kwargs)  # type: ignore[arg-type]


def test_deployability_is_checked_against_the_live_nodes() -> None:
    nodes = [node("pico1", cpus=0.5, labels={"zone": "a"}).info,
             node("pico2", cpus=1.0, labels={"zone": "b"}).info]
    check_deployable(service_spec("kv", app="kv", cpus=1.0, hosts="pico[1-2]"), nodes)
    with pytest.raises(ValidationError, match="no node agent is running"):
        check_deployable(service_spec("kv", app="kv"), [])
    with pytest.raises(ValidationError, match=r"cpus 2 is larger than any node .*pico2 with 1"):
        check_deployable(service_spec("kv", app="kv", cpus=2), nodes)
    with pytest.raises(ValidationError, match=r"hosts .edge.*. matches no node"):
        check_deployable(service_spec("kv", app="kv", hosts="edge*"), nodes)
    with pytest.raises(ValidationError, match="labels zone=c matches no node"):
        check_deployable(service_spec("kv", app="kv", labels={"zone": "c"}), nodes)
    with pytest.raises(ValidationError, match="no node allows command 'busy'"):
        check_deployable(service_spec("kv", command="busy"), nodes)
    check_deployable(service_spec("kv", app="kv", replicas=0, cpus=64), [])  # nothing to place


def test_services_file_forms_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("services:\n  - {name: kv, app: kv, replicas: 2, cpus: 0.5, memory: 64M}\n"
                    "  - {name: web, app: echo, keep: true}\n")
    (kv, keep_kv), (web, keep_web) = read_services_file(path)
    assert (kv.replicas, kv.cpus, kv.memory, keep_kv) == (2, 0.5, 64 << 20, False)
    assert (web.what, keep_web) == ("echo", True)
    path.write_text("kv: {app: kv, replica: 2}\n")
    with pytest.raises(ValidationError, match="unknown field 'replica'"):
        read_services_file(path)
    path.write_text("- {name: kv, app: kv}\n- {name: kv, app: echo}\n")
    with pytest.raises(ValidationError, match="declared twice"):
        read_services_file(path)


def test_a_scenarios_services_section_is_checked_with_the_rest() -> None:
    from galileo.experiments.scenario import ScenarioError, parse_scenario

    base = {"duration": 1, "workloads": [{"service": "web", "profile": {"type": "constant",
                                                                         "rps": 1}}]}
    ok = parse_scenario({**base, "services": [{"name": "web", "app": "echo", "keep": True}]})
    assert ok.services[0]["keep"] is True
    with pytest.raises(ScenarioError, match=r"services: service 'web': unknown app 'nope'"):
        parse_scenario({**base, "services": [{"name": "web", "app": "nope"}]})
