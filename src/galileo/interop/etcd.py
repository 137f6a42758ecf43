"""The routing table mirrored into etcd for Galileo 0.x's Go load balancer.

That balancer watches ``golb/function/<zone>/<service>`` keys holding
``{"ips": ["host:port", ...], "weights": [int, ...]}`` (weighted round robin). :class:`EtcdMirror`
keeps those keys equal to Galileo's routing table: it follows the table like a worker does
(pub/sub updates plus a periodic full read) and reconciles etcd against it on every change and
every ``resync_interval_s``: missing or stale keys are written, keys of removed services deleted.
So an etcd that restarts (even empty) or a Redis that comes back is fully re-synced within one
interval, and nothing depends on a message having arrived.

etcd is spoken to through its v3 JSON gateway (``/v3/kv/...``, served by every etcd ≥ 3.4 on the
client port): no client library and no gRPC/protobuf versions to pin, and the same requests work
from a shell with curl. Weights: see :func:`golb_weights`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from galileo import bus
from galileo.balancing import WeightMapping, bounded_integer_weights
from galileo.errors import BusError, ConfigError, GalileoError
from galileo.protocol import Keys, RoutingRecord
from galileo.settings import Settings
from galileo.worker.routing import RoutingCache

__all__ = ["EtcdError", "EtcdGateway", "EtcdMirror", "WeightMapping", "golb_weights"]

log = logging.getLogger(__name__)

GOLB_MAX_WEIGHT: Final = 1000
RESYNC_INTERVAL_S: Final = 0.5
REQUEST_TIMEOUT_S: Final = 2.0


class EtcdError(GalileoError):
    """etcd unreachable, refusing, or answering something unexpected."""

    exit_code = 3


# ---------------------------------------------------------------------- weights
def golb_weights(weights: Sequence[float], max_weight: int = GOLB_MAX_WEIGHT) -> WeightMapping:
    """Integer weights for the Go balancer: the smallest proportional integers (the ones
    Galileo's own round robin uses, ``0.5, 1.5`` → ``1, 3``) while they stay ≤ ``max_weight``,
    else scaled to it and rounded (:func:`galileo.balancing.bounded_integer_weights`)."""
    return bounded_integer_weights(weights, max_weight)


def golb_value(record: RoutingRecord) -> bytes:
    """The JSON value Galileo 0.x's balancer reads for one routing record."""
    mapping = golb_weights(record.weights)
    return json.dumps({"ips": list(record.hosts), "weights": mapping.weights},
                      separators=(",", ":")).encode()


# ---------------------------------------------------------------------- etcd v3 gateway
def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _prefix_end(prefix: bytes) -> bytes:
    """The ``range_end`` covering every key starting with ``prefix``."""
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\0"


class EtcdGateway:
    """A few etcd v3 calls over its JSON gateway (blocking; the mirror runs them in a thread).

    ``user``/``password`` authenticate once (``/v3/auth/authenticate``) and again when the
    token expires."""

    def __init__(self, endpoint: str, *, user: str = "", password: str = "",
                 timeout_s: float = REQUEST_TIMEOUT_S) -> None:
        self.endpoint = endpoint.rstrip("/")
        if not self.endpoint.startswith(("http://", "https://")):
            raise ConfigError(f"etcd endpoint {endpoint!r} must start with http:// or https://")
        self.user, self.password, self.timeout_s = user, password, timeout_s
        self._token: str | None = None

    def _call(self, path: str, body: Mapping[str, Any], *, retry_auth: bool = True) -> Any:
        headers = {"Content-Type": "application/json"}
        if self.user and self._token is None and path != "/v3/auth/authenticate":
            self._authenticate()
        if self._token:
            headers["Authorization"] = self._token
        request = urllib.request.Request(self.endpoint + path, json.dumps(body).encode(),
                                         headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")[:200]
            if e.code in (401, 403) or "token" in detail or "permission" in detail:
                if self.user and retry_auth:
                    self._token = None
                    return self._call(path, body, retry_auth=False)
                raise EtcdError(f"etcd at {self.endpoint} refused {path}: authentication or "
                                f"permission problem ({detail.strip()})") from None
            raise EtcdError(f"etcd at {self.endpoint} answered {e.code} to {path}: "
                            f"{detail.strip()}") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise EtcdError(f"etcd at {self.endpoint} unreachable ({reason})") from None
        except ValueError:
            raise EtcdError(f"etcd at {self.endpoint} answered {path} with something that is "
                            "not JSON (is this etcd's client port?)") from None

    def _authenticate(self) -> None:
        answer = self._call("/v3/auth/authenticate", {"name": self.user,
                                                      "password": self.password})
        token = answer.get("token")
        if not token:
            raise EtcdError(f"etcd at {self.endpoint} gave no token for user {self.user!r}")
        self._token = str(token)

    def put(self, key: str, value: bytes) -> None:
        self._call("/v3/kv/put", {"key": _b64(key.encode()), "value": _b64(value)})

    def delete(self, key: str) -> None:
        self._call("/v3/kv/deleterange", {"key": _b64(key.encode())})

    def get_prefix(self, prefix: str) -> dict[str, bytes]:
        """Every key under ``prefix`` with its value."""
        raw = prefix.encode()
        answer = self._call("/v3/kv/range", {"key": _b64(raw), "range_end": _b64(_prefix_end(raw))})
        return {base64.b64decode(kv["key"]).decode(errors="replace"):
                base64.b64decode(kv.get("value", "")) for kv in answer.get("kvs", [])}


# ---------------------------------------------------------------------- the mirror
@dataclass
class SyncReport:
    written: int = 0
    deleted: int = 0


class EtcdMirror:
    """Keeps ``<prefix>/<zone>/<service>`` in etcd equal to the routing table."""

    def __init__(self, settings: Settings, etcd: EtcdGateway, *, zone: str = "main",
                 prefix: str = "golb/function",
                 resync_interval_s: float = RESYNC_INTERVAL_S) -> None:
        self.etcd = etcd
        self.zone = zone.strip("/")
        self.prefix = prefix.strip("/")
        self.resync_interval_s = resync_interval_s
        self.keys = Keys(settings.namespace)
        self._client = bus.connect_async(settings)
        self.records: dict[str, RoutingRecord] = {}
        self.routing = RoutingCache(self._client, self.keys, self._on_route)
        self._changed = asyncio.Event()
        self.syncs = 0  # reconciliations that wrote or deleted something
        self.last_error: str | None = None

    def key(self, service: str) -> str:
        return f"{self.prefix}/{self.zone}/{service}"

    def desired(self) -> dict[str, bytes]:
        return {self.key(s): golb_value(r) for s, r in sorted(self.records.items())}

    def _on_route(self, _op: str, payload: tuple[str, RoutingRecord | None]) -> None:
        service, record = payload
        if record is None:
            self.records.pop(service, None)
        else:
            self.records[service] = record
            mapping = golb_weights(record.weights)
            if not mapping.exact:
                log.info("etcd mirror: %s weights %s scaled to %s (shares off by at most %.3f "
                         "points)", service, record.weights, mapping.weights,
                         mapping.max_share_error * 100)
        self._changed.set()

    def reconcile(self) -> SyncReport:
        """One full comparison of etcd with the table, fixing every difference (blocking)."""
        want = self.desired()
        have = self.etcd.get_prefix(f"{self.prefix}/{self.zone}/")
        report = SyncReport()
        for key, value in want.items():
            if have.get(key) != value:
                self.etcd.put(key, value)
                report.written += 1
        for key in have.keys() - want.keys():
            self.etcd.delete(key)
            report.deleted += 1
        return report

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Follow the table and reconcile until ``stop`` is set (or the task is cancelled)."""
        stop = stop or asyncio.Event()
        tasks = [asyncio.create_task(self._follow()), asyncio.create_task(self.routing.poll())]
        outage = bus.Outage(log, f"etcd mirror to {self.etcd.endpoint}")
        # retry an unreachable etcd at least every resync interval: back within one interval
        backoff = bus.Backoff(base_s=0.05, cap_s=self.resync_interval_s)
        try:
            while not stop.is_set():
                self._changed.clear()
                try:
                    report = await asyncio.to_thread(self.reconcile)
                except EtcdError as e:
                    self.last_error = str(e)
                    outage.failed(e)
                    await _wait_any(stop, None, backoff.next_delay())
                    continue
                self.last_error = None
                outage.ok()
                backoff.reset()
                if report.written or report.deleted:
                    self.syncs += 1
                    log.info("etcd mirror: %d key(s) written, %d deleted", report.written,
                             report.deleted)
                await _wait_any(stop, self._changed, self.resync_interval_s)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, BusError):
                    await task
            with contextlib.suppress(BusError, OSError):
                await self._client.aclose()

    async def _follow(self) -> None:
        """Routing updates from pub/sub (re-subscribing after a bus outage)."""
        backoff, outage = bus.Backoff(), bus.Outage(log, "etcd mirror: routing updates")
        channel = self.keys.rtbl_updates.encode()
        while True:
            try:
                pubsub = self._client.pubsub()
                await pubsub.subscribe(self.keys.rtbl_updates)
                await self.routing.reload_all()
                outage.ok()
                backoff.reset()
                while True:
                    msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if msg and msg.get("type") == "message" and msg.get("channel") == channel:
                        self.routing.on_update(bytes(msg["data"]).decode(errors="replace"))
            except BusError as e:
                outage.failed(e)
                with contextlib.suppress(BusError, OSError):
                    await pubsub.aclose()
                await asyncio.sleep(backoff.next_delay())


async def _wait_any(stop: asyncio.Event, changed: asyncio.Event | None, timeout_s: float) -> None:
    waits = [asyncio.ensure_future(stop.wait())]
    if changed is not None:
        waits.append(asyncio.ensure_future(changed.wait()))
    try:
        await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


def mirror_from_settings(settings: Settings, endpoint: str | None = None, *,
                         zone: str | None = None, prefix: str | None = None,
                         user: str = "", password: str = "") -> EtcdMirror:
    """The mirror configured by ``galileo_etcd_mirror_*`` (arguments override)."""
    url = endpoint or settings.etcd_mirror_endpoint
    if not url:
        raise ConfigError("no etcd endpoint: pass --endpoint or set galileo_etcd_mirror_endpoint")
    return EtcdMirror(settings, EtcdGateway(url, user=user, password=password),
                      zone=zone or settings.etcd_mirror_zone,
                      prefix=prefix or settings.etcd_mirror_prefix)


def start_in_thread(settings: Settings, stop: threading.Event) -> threading.Thread:
    """Run the mirror that ``galileo_etcd_mirror_*`` configures in a daemon thread until
    ``stop`` is set (the recorder hosts it this way)."""
    mirror = mirror_from_settings(settings)

    async def main() -> None:
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        threading.Thread(target=lambda: (stop.wait(), loop.call_soon_threadsafe(done.set)),
                         daemon=True, name="etcd-mirror-stop").start()
        await mirror.run(done)

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True,
                              name="etcd-mirror")
    thread.start()
    log.info("etcd mirror to %s under %s/%s/ runs in this process", mirror.etcd.endpoint,
             mirror.prefix, mirror.zone)
    return thread
