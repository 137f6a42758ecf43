"""A researcher's autoscaling policy module for the allow-list tests (``as_policies:Fixed``)."""

from __future__ import annotations

from typing import Any

from galileo.autoscaling import Observation, Policy, Proposal


class Fixed(Policy):
    """Always the same number of replicas."""

    name = "fixed"
    metric = "none"

    def __init__(self, replicas: object = 2, **options: Any) -> None:
        super().__init__(**options)
        self.replicas = int(str(replicas))

    def propose(self, obs: Observation) -> Proposal:
        return Proposal(self.replicas, f"always {self.replicas}")


class NotAPolicy:
    """Not a Policy subclass: refused even from an allowed module."""
