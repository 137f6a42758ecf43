"""Switching the policy of running balancers from anywhere (CLI, instruction language,
scenarios): the spec is stored under ``lb_policy(name)`` (processes starting later take it),
announced with an :class:`LbCommand` (running processes switch within milliseconds) and recorded
as an ``lb_policy`` event of the running experiment."""

from __future__ import annotations

from typing import Any

from galileo.errors import BusError, ConfigError
from galileo.lb.policies import load_policy
from galileo.protocol import (
    Event,
    EventField,
    EventKind,
    Keys,
    LbCommand,
    check_name,
    encode,
    new_event,
)

__all__ = ["check_policy_spec", "switch_policy"]


def check_policy_spec(spec: str) -> str:
    """Raise ``ConfigError`` for a spec no balancer could load: an unknown built-in name or bad
    options (a ``module:Class`` is checked by the balancer, against its allow-list)."""
    name = spec.split(",", 1)[0].strip()
    if ":" not in name:
        load_policy(spec)
    elif not all(name.partition(":")):
        raise ConfigError(f"policy {spec!r} must be a built-in name or module:Class.")
    return spec


def switch_policy(client: Any, namespace: str, name: str, spec: str) -> Event:
    """Switch balancer ``name`` (``*``: every balancer) to policy ``spec`` (sync bus client)."""
    check_policy_spec(spec)
    if name != "*":
        check_name("balancer", name)
    keys = Keys(namespace)
    try:
        exp = client.get(keys.current_experiment)
        event = new_event(EventKind.LB_POLICY, exp_id=exp.decode() if exp else None, name=name,
                          data={"policy": spec})
        pipe = client.pipeline(transaction=False)
        if name != "*":
            pipe.set(keys.lb_policy(name), spec)
        pipe.publish(keys.lb_commands, encode(LbCommand(lb=name, policy=spec)))
        pipe.xadd(keys.events, {EventField: encode(event)})
        pipe.execute()
    except BusError as e:
        raise BusError(f"cannot switch the policy of balancer {name!r}: {e}") from None
    return event
