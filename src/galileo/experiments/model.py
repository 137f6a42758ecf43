"""The experiment job model: kinds of job, status views, named timing defaults."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from galileo.control.experiment import JOB_CANCEL_TTL_S
from galileo.storage import TERMINAL_STATUSES, Experiment, ExperimentStatus

TERMINAL: Final = TERMINAL_STATUSES  # the one definition is storage's
CANCEL_CHECK_INTERVAL_S: Final = 0.1  # how often a running experiment looks for a stop request
PROGRESS_WRITE_INTERVAL_S: Final = 0.5  # at most this often the status row is updated
CANCEL_TTL_S: Final = JOB_CANCEL_TTL_S  # a stop request outlives any run
TASK_NAME: Final = "galileo.experiments.run"


class JobKind(StrEnum):
    SCRIPT = "script"
    SCENARIO = "scenario"


@dataclass(frozen=True, slots=True)
class ExperimentStatusView:
    """What ``status`` shows: the state, progress (0..1), current stage and status message."""

    id: str
    status: str
    progress: float
    stage: str | None
    message: str | None

    @classmethod
    def of(cls, exp: Experiment) -> ExperimentStatusView:
        return cls(exp.id, exp.status.value, float(exp.progress or 0.0), exp.stage,
                   exp.status_message)

    @property
    def terminal(self) -> bool:
        return ExperimentStatus(self.status) in TERMINAL

    def describe(self) -> str:
        """One line, like Galileo 0.x's ``Experiment 125 is in state PROGRESS; …`` answers."""
        text = f"Experiment {self.id} is in state {self.status}; progress {self.progress:.0%}"
        if self.stage:
            text += f"; stage {self.stage}"
        if self.message:
            text += f"; {self.message}"
        return text
