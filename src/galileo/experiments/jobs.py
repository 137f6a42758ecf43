"""What an experiment runs: a parsed instruction script or a validated scenario. Everything is
validated whole before anything runs; :func:`job_from_metadata` rebuilds it on the runner."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from galileo.control import instructions as ins
from galileo.control.galileo import no_route_message
from galileo.errors import InstructionError, NoRouteError, ValidationError

from .model import JobKind
from .scenario import Scenario, parse_scenario


class InvalidScriptError(InstructionError):
    """A script with bad lines; ``problems`` lists each as ``line N: …``."""

    def __init__(self, errors: list[InstructionError]) -> None:
        super().__init__(errors[0].line, errors[0].reason)
        self.problems = [str(e) for e in errors]
        self.args = ("; ".join(self.problems),)


@dataclass(frozen=True)
class Job:
    kind: JobKind
    source: str  # the script text or the scenario as submitted (YAML/JSON text)
    scenario: Scenario | None = None
    steps: list[ins.Step] = field(default_factory=list)

    @property
    def default_name(self) -> str:
        return self.scenario.name if self.scenario is not None else ""

    def loaded_services(self) -> set[str]:
        """The services the job sends requests to (workloads, ``spawn`` lines)."""
        if self.scenario is not None:
            return self.scenario.loaded_services()
        return {s.instruction.service for s in self.steps
                if isinstance(s.instruction, ins.Spawn)}

    def routed_services(self) -> set[str]:
        """The services the job routes or deploys itself (``set`` lines, ``routing:``, …)."""
        if self.scenario is not None:
            return self.scenario.routed_services()
        return {s.instruction.service for s in self.steps
                if isinstance(s.instruction, ins.SetRoute)}

    def services(self) -> list[str]:
        """Every service the job loads or changes the routing of (sorted): what it leases."""
        out = self.loaded_services() | self.routed_services()
        if self.scenario is not None:
            out |= {ch.service for ch in self.scenario.routing_changes}
        else:
            out |= {s.instruction.service for s in self.steps
                    if isinstance(s.instruction, ins.Unset)}
        return sorted(out)

    def check_routes(self, has_route: Callable[[str], bool]) -> None:
        """``NoRouteError`` for the first loaded service that neither the job nor the routing
        table (``has_route``) routes."""
        for service in sorted(self.loaded_services() - self.routed_services()):
            if not has_route(service):
                raise NoRouteError(no_route_message(service))

    def metadata(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value, "source": self.source}
        if self.scenario is not None:
            out["scenario"] = self.scenario.model_dump(mode="json", by_alias=True)
        else:
            out["script"] = self.source
        return out


def parse_script(text: str) -> list[ins.Step]:
    """Parse a whole script (controller dialect); every bad line is reported."""
    steps, errors = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            instruction = ins.parse_line(line, ins.Dialect.CONTROLLER, number)
        except InstructionError as e:
            errors.append(e)
            continue
        if instruction is not None:
            steps.append(ins.Step(number, instruction))
    if errors:
        raise InvalidScriptError(errors)
    if not steps:
        raise ValidationError("the script has no instructions")
    return steps


def make_job(*, script: str | None = None, scenario: str | dict[str, Any] | None = None) -> Job:
    """Validate a submission; exactly one of ``script`` / ``scenario``."""
    if (script is None) == (scenario is None):
        raise ValidationError("give exactly one of a script or a scenario")
    if script is not None:
        if not isinstance(script, str):
            raise ValidationError("the script must be text")
        return Job(JobKind.SCRIPT, script, steps=parse_script(script))
    assert scenario is not None
    parsed = parse_scenario(scenario)
    source = scenario if isinstance(scenario, str) else _dump(scenario)
    return Job(JobKind.SCENARIO, source, scenario=parsed)


def _dump(data: dict[str, Any]) -> str:
    import json

    return json.dumps(data, default=str)


def job_from_metadata(meta: dict[str, Any]) -> Job:
    """Rebuild the job a runner executes from the stored metadata."""
    kind = JobKind(str(meta.get("kind", "")))
    if kind is JobKind.SCRIPT:
        text = str(meta.get("script") or "")
        return Job(kind, text, steps=parse_script(text))
    return Job(kind, str(meta.get("source", "")),
               scenario=Scenario.model_validate(meta.get("scenario") or {}))
