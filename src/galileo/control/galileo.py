"""``Galileo``: the controller API object (workers, client groups, routing, experiments)."""

from __future__ import annotations

import contextlib
import fnmatch
import logging
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

import msgspec

from galileo import bus
from galileo.balancing import SmoothWeightedRoundRobin
from galileo.errors import (
    GalileoError,
    NoRouteError,
    NotFoundError,
    NoWorkersError,
    ValidationError,
)
from galileo.events import EventLog, as_bytes
from galileo.protocol import (
    ArrivalKind,
    ArrivalSpec,
    Command,
    EventKind,
    GroupInfo,
    Keys,
    Ping,
    RequestSpec,
    SpawnGroup,
    WorkerInfo,
    WorkerLossPolicy,
    check_name,
    decode_group_info,
    decode_worker_info,
    encode,
    new_id,
    valid_members,
)
from galileo.routing import RoutingTable
from galileo.settings import Settings

from .commands import Commander
from .experiment import ExperimentControl, set_tracing
from .group import ClientGroup
from .http import Response, send
from .placement import label_key, place_least_loaded, split_rate, with_pending

if TYPE_CHECKING:
    from galileo.services import Services

log = logging.getLogger(__name__)
_reported_bad: set[str] = set()  # groups whose malformed record was logged once


def no_route_message(service: str) -> str:
    """The one sentence for a service nobody routed."""
    return (f"no routing record for {service!r}; set one with `set {service} HOST:PORT` in "
            "`galileo rtbl` (or `routing:` in a scenario)")


def to_loss_policy(value: WorkerLossPolicy | str) -> WorkerLossPolicy:
    try:
        return WorkerLossPolicy(value)
    except ValueError:
        options = ", ".join(p.value for p in WorkerLossPolicy)
        raise ValidationError(f"unknown worker-loss policy {value!r}; use one of {options}"
                              ) from None


def to_request_spec(request: RequestSpec | dict[str, Any] | None) -> RequestSpec:
    if request is None:
        return RequestSpec()
    if isinstance(request, RequestSpec):
        return request
    try:
        return msgspec.convert(request, RequestSpec)
    except msgspec.ValidationError as e:
        raise ValidationError(f"invalid request spec: {e}") from None


def to_arrival_spec(arrival: str | ArrivalSpec | dict[str, Any]) -> ArrivalSpec:
    if isinstance(arrival, ArrivalSpec):
        return arrival
    if isinstance(arrival, str):
        try:
            return ArrivalSpec(kind=ArrivalKind(arrival))
        except ValueError:
            kinds = ", ".join(k.value for k in ArrivalKind)
            raise ValidationError(f"unknown arrival {arrival!r}; use one of {kinds}") from None
    try:
        return msgspec.convert(arrival, ArrivalSpec)
    except msgspec.ValidationError as e:
        raise ValidationError(f"invalid arrival spec: {e}") from None


class Galileo:
    """Entry point of the controller. ``with Galileo.from_env() as g: g.spawn(...)``."""

    def __init__(self, settings: Settings, client: bus.Bus | None = None) -> None:
        self.settings = settings
        self.keys = Keys(settings.namespace)
        self._own_client = client is None
        self.redis: bus.Bus = client if client is not None else bus.connect(settings)
        self.commander = Commander(self.redis, self.keys)
        self.experiment = ExperimentControl(self.redis, self.keys)
        self._balancers: dict[str, tuple[int, SmoothWeightedRoundRobin]] = {}
        self.act_for(None)

    def act_for(self, exp_id: str | None) -> None:
        """Act for experiment ``exp_id`` from now on (``None``: for the cluster's operator):
        :meth:`spawn` tags new groups with it, :meth:`groups` lists only the groups it owns
        (so ``rps``/``close`` and their patterns touch no other experiment's groups), and
        events -- routing changes included -- are filed under it."""
        if exp_id is not None:
            check_name("experiment id", exp_id)
        self.scope = exp_id
        self.events = EventLog(self.redis, self.keys, exp_id)
        self.rtbl = RoutingTable(self.redis, self.keys, self.events)

    @classmethod
    def from_settings(cls, settings: Settings) -> Galileo:
        return cls(settings)

    @classmethod
    def from_env(cls) -> Galileo:
        return cls(Settings.from_env())

    def close(self) -> None:
        if self._own_client:
            self.redis.close()

    def __enter__(self) -> Galileo:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Galileo redis={bus.describe(self.settings)} namespace={self.keys.ns}>"

    @property
    def services(self) -> Services:
        """Declared services (``g.services.run("kv", app="kv", replicas=3, cpus=0.5)``)."""
        from galileo.services import Services

        modules = [m for m in self.settings.services_policy_modules.split(",") if m.strip()]
        return Services(self.redis, self.keys, modules)

    # ------------------------------------------------------------------ workers
    def workers(self, labels: dict[str, str] | None = None) -> list[WorkerInfo]:
        """Live workers (sorted by name), optionally only those carrying all ``labels``."""
        names = valid_members(self.redis.smembers(self.keys.workers), "worker",
                              self.keys.workers)
        with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hget(self.keys.worker(name), "info")
            raws = pipe.execute()
        out = []
        for raw in raws:
            if not raw:
                continue
            try:
                info = decode_worker_info(raw)
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue
            if labels and any(info.labels.get(label_key(k)) != v for k, v in labels.items()):
                continue
            out.append(info)
        return out

    def ping(self, timeout: float = 2.0) -> dict[str, float | None]:
        """Round-trip time in ms per live worker (``None`` for one that did not answer)."""
        names = [w.name for w in self.workers()]
        if not names:
            return {}
        corr = self.commander.new_corr()
        start = time.monotonic_ns()
        commands: dict[str, Command] = {w: Ping(corr=corr, sent_ns=time.time_ns())
                                        for w in names}
        replies = self.commander.send(commands, timeout=timeout, corr=corr)
        return {w: ((replies.received_mono_ns[w] - start) / 1e6
                    if w in replies.received_mono_ns else None) for w in names}

    # ------------------------------------------------------------------ one request
    def request(self, service: str, method: str = "GET", path: str = "/",
                headers: dict[str, str] | None = None, body: bytes | None = None,
                json: Any = None, timeout: float = 10.0) -> Response:
        """Send one request to ``service`` through the routing table (weighted round robin)."""
        record = self.rtbl.get(service)
        if record is None:
            raise NotFoundError(f"service {service!r} has no routing record; set one with "
                                f"rtbl.set({service!r}, 'host:port')")
        cached = self._balancers.get(service)
        if cached is None or cached[0] != record.version:
            cached = (record.version, SmoothWeightedRoundRobin(record.hosts, record.weights))
            self._balancers[service] = cached
        host = cached[1].next()
        return send(host, method, path, headers, body, json, timeout)

    # ------------------------------------------------------------------ groups
    def spawn(self, service: str, num: int = 1, *, hosts: str | None = None,
              worker_labels: dict[str, str] | None = None,
              request: RequestSpec | dict[str, Any] | None = None,
              arrival: str | ArrivalSpec = "constant", rps: float = 0,
              max_inflight: int = 1000, timeout_s: float = 10,
              exp_id: str | None = None,
              on_worker_loss: WorkerLossPolicy | str = WorkerLossPolicy.REPLACE,
              check_route: bool = True) -> ClientGroup:
        """Start ``num`` clients of ``service`` on the least-loaded matching workers.

        The group belongs to ``exp_id`` (default: the experiment this controller acts for, see
        :meth:`act_for`) and its traces and events carry that id; a group of no experiment is
        tagged with the experiment running when each request is sent (``g.experiment``).
        ``on_worker_loss``: when a hosting worker dies, ``replace`` moves its share of the rate
        to the remaining workers, ``degrade`` runs on without it (both recorded as events).
        A service without a routing record is refused (``ValidationError``) unless
        ``check_route`` is False (a scenario that routes it later)."""
        policy = to_loss_policy(on_worker_loss)
        check_name("service", service)
        exp_id = exp_id if exp_id is not None else self.scope
        if exp_id is not None:
            check_name("experiment id", exp_id)
        if num < 1:
            raise ValidationError(f"cannot spawn {num} clients of {service!r}: need at least 1")
        if not rps >= 0:
            raise ValidationError(f"rate {rps!r} for {service!r} must be >= 0")
        spec, arr = to_request_spec(request), to_arrival_spec(arrival)
        candidates = [w for w in self.workers(worker_labels)
                      if hosts is None or fnmatch.fnmatch(w.name, hosts)
                      or fnmatch.fnmatch(w.host, hosts)]
        if not candidates:
            raise NoWorkersError(_no_worker_message(hosts, worker_labels))
        if check_route and self.rtbl.get(service) is None:
            raise NoRouteError(no_route_message(service))
        load = with_pending({w.name: w.clients for w in candidates},
                            [grp.info.placement for grp in self.groups()])
        counts = place_least_loaded(load, num)
        gid = new_id()
        placement: dict[str, list[str]] = {}
        i = 0
        for worker in sorted(counts):
            placement[worker] = [f"{gid[:12]}-{i + k}" for k in range(counts[worker])]
            i += counts[worker]
        shares = split_rate(float(rps), counts)
        corr = self.commander.new_corr()
        commands: dict[str, Command] = {
            w: SpawnGroup(corr=corr, gid=gid, service=service, clients=c, request=spec,
                          arrival=arr, rps=shares[w], max_inflight=max_inflight,
                          timeout_s=timeout_s, exp_id=exp_id) for w, c in placement.items()}
        info = GroupInfo(gid=gid, service=service, placement=placement, request=spec,
                         arrival=arr, rps=float(rps), created_ns=time.time_ns(), exp_id=exp_id,
                         on_worker_loss=policy)
        with self.redis.pipeline() as pipe:  # stored first so a late ack is never orphaned
            pipe.hset(self.keys.group(gid), "info", encode(info))
            pipe.sadd(self.keys.groups, gid)
            pipe.execute()
        group = ClientGroup(self, info)
        replies = self.commander.send(commands, timeout=timeout_s, corr=corr)
        if replies.silent or replies.failed():
            with contextlib.suppress(GalileoError):  # best effort: the spawn error matters
                group.close(timeout=min(timeout_s, 2.0))
            replies.raise_for_problems(f"spawn of {num} {service!r} client(s)")
        self.events.append(EventKind.GROUP_SPAWN, gid,
                           {"service": service, "placement": counts, "rps": float(rps)},
                           exp_id=exp_id)
        return group

    def groups(self) -> list[ClientGroup]:
        """The live client groups: every one (any controller may have spawned it), or, when
        this controller acts for an experiment, only that experiment's."""
        gids = valid_members(self.redis.smembers(self.keys.groups), "group", self.keys.groups)
        out = []
        for gid in gids:
            raw = self.redis.hget(self.keys.group(gid), "info")
            if not raw:
                continue
            try:
                info = decode_group_info(as_bytes(raw))
            except (msgspec.DecodeError, msgspec.ValidationError) as e:
                if gid not in _reported_bad:
                    _reported_bad.add(gid)
                    log.warning("skipping group %s: malformed record (%s)", gid, e)
                continue
            if self.scope is None or info.exp_id == self.scope:
                out.append(ClientGroup(self, info))
        return out

    def group(self, gid: str) -> ClientGroup:
        """Reattach to a group by id (``NotFoundError`` when unknown)."""
        raw = self.redis.hget(self.keys.group(gid), "info")
        if not raw:
            raise NotFoundError(f"no client group with id {gid!r}")
        return ClientGroup(self, decode_group_info(as_bytes(raw)))

    # ------------------------------------------------------------------ tracing
    def tracing(self, on: bool) -> None:
        """Switch trace recording on all workers on or off."""
        set_tracing(self.redis, self.keys, on)


def _no_worker_message(hosts: str | None, labels: dict[str, str] | None) -> str:
    """``no live worker matches the host pattern 'pico*' and the labels zone=eu (…)``."""
    wanted = [f"the host pattern {hosts!r}"] if hosts is not None else []
    if labels:
        wanted.append("the labels " + ", ".join(f"{k}={v}" for k, v in sorted(labels.items())))
    what = ("matches " + " and ".join(wanted)) if wanted else "is registered"
    return f"no live worker {what} (see `galileo workers`)"
