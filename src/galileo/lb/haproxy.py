"""``galileo lb haproxy``: keep a running HAProxy backend in step with Galileo's routing table
through HAProxy's runtime API (the ``stats socket``, a unix path or ``host:port``).

Every pass compares the routing record of the service with ``show servers state`` and issues
only what differs:

* a routed address already in the backend: ``set server B/S weight W`` and ``state ready``;
* a new address: a server of the backend that is out of use (maint, not routed) is re-pointed
  with ``set server B/S addr IP port P``; without one, ``add server B/galileo-…`` (HAProxy >= 2.4,
  started in maintenance) then ``enable server``;
* an address no longer routed: ``state drain`` (no new requests, open ones finish); once it has
  no sessions it goes to ``maint``, and servers Galileo added are deleted (``del server``).

Weights: HAProxy's are integers 0..256. The routing weights are reduced to the smallest exact
integers (:func:`galileo.balancing.integer_weights`); when those exceed 256 they are scaled so
the largest is 256 and rounded (a weight > 0 stays >= 1), and the largest change of any
server's share of traffic is reported (:class:`WeightMapping`).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import msgspec

from galileo import bus
from galileo.balancing import WeightMapping, bounded_integer_weights
from galileo.errors import BusError, GalileoError, ValidationError
from galileo.load.httpclient import parse_address
from galileo.protocol import Keys, RoutingRecord, decode_routing_record
from galileo.settings import Settings

__all__ = ["HaproxyError", "HaproxySync", "RuntimeApi", "WeightMapping", "haproxy_weights",
           "read_record", "run_sync"]

log = logging.getLogger(__name__)

HAPROXY_MAX_WEIGHT: Final = 256
ADDED_PREFIX: Final = "galileo-"
SYNC_INTERVAL_S: Final = 1.0
_SUCCESS: Final = ("changed from", "no need to change", "new server registered", "server deleted")
SOCKET_TIMEOUT_S: Final = 2.0
# maintenance: forced, inherited, resolution, hostname (0x04 only remembers "disabled" in the
# configuration file and stays set while the server serves)
_MAINT: Final = 0x01 | 0x02 | 0x20 | 0x40
_DRAIN: Final = 0x08 | 0x10


class HaproxyError(GalileoError):
    """HAProxy's runtime API is absent, refuses, or rejected a command."""

    exit_code = 2


def haproxy_weights(weights: Sequence[float]) -> WeightMapping:
    """HAProxy integer weights (0..256) for routing ``weights``: exact when possible, else
    scaled and rounded (:func:`galileo.balancing.bounded_integer_weights`)."""
    return bounded_integer_weights(weights, HAPROXY_MAX_WEIGHT)


class RuntimeApi:
    """One command per connection on HAProxy's runtime API (unix socket path or host:port)."""

    def __init__(self, address: str, timeout_s: float = SOCKET_TIMEOUT_S) -> None:
        self.address = address
        self.timeout_s = timeout_s

    def command(self, line: str) -> str:
        try:
            with self._connect() as sock:
                sock.sendall(line.encode() + b"\n")
                chunks = []
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
        except FileNotFoundError:
            raise HaproxyError(f"HAProxy runtime socket {self.address} does not exist (is "
                               "HAProxy running with 'stats socket' there?).") from None
        except ConnectionRefusedError:
            raise HaproxyError(f"HAProxy runtime socket {self.address} refuses connections "
                               "(HAProxy stopped or reloading?).") from None
        except PermissionError:
            raise HaproxyError(f"no permission to use HAProxy runtime socket "
                               f"{self.address}.") from None
        except OSError as e:
            raise HaproxyError(f"HAProxy runtime socket {self.address}: "
                               f"{e.strerror or e}.") from None
        return b"".join(chunks).decode(errors="replace")

    def _connect(self) -> socket.socket:
        if "/" in self.address or ":" not in self.address:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            target: str | tuple[str, int] = self.address
        else:
            host, _, port = self.address.rpartition(":")
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            target = (host, int(port))
        sock.settimeout(self.timeout_s)
        try:
            sock.connect(target)
        except BaseException:
            sock.close()
            raise
        return sock


@dataclass
class ServerState:
    name: str
    addr: str
    port: int
    admin: int
    weight: int

    @property
    def endpoint(self) -> str:
        return f"{self.addr}:{self.port}"

    @property
    def in_maint(self) -> bool:
        return bool(self.admin & _MAINT)

    @property
    def draining(self) -> bool:
        return bool(self.admin & _DRAIN)


class HaproxySync:
    """Brings one HAProxy backend to a routing record (idempotent; only differences are sent)."""

    def __init__(self, api: RuntimeApi, backend: str, service: str) -> None:
        self.api = api
        self.backend = backend
        self.service = service
        self.last_mapping: WeightMapping | None = None

    def _run(self, line: str) -> str:
        out = self.api.command(line).strip()
        if out and not any(ok in out.lower() for ok in _SUCCESS):
            raise HaproxyError(f"HAProxy refused {line!r}: {out.splitlines()[0]}")
        log.debug("haproxy: %s -> %s", line, out)
        return out

    def servers(self) -> list[ServerState]:
        """The backend's servers (``show servers state``)."""
        out = self.api.command(f"show servers state {self.backend}")
        lines = [ln for ln in out.splitlines() if ln.strip()]
        header = next((ln[2:].split() for ln in lines if ln.startswith("# be_id")), None)
        if header is None:
            raise HaproxyError(f"HAProxy has no backend {self.backend!r} "
                               f"({(lines or ['no answer'])[-1].strip()}).")
        col = {name: i for i, name in enumerate(header)}
        servers = []
        for ln in lines:
            if ln.startswith("#") or ln.strip() == "1":
                continue
            f = ln.split()
            servers.append(ServerState(name=f[col["srv_name"]], addr=f[col["srv_addr"]],
                                       port=int(f[col["srv_port"]]),
                                       admin=int(f[col["srv_admin_state"]]),
                                       weight=int(f[col["srv_uweight"]])))
        return servers

    def sessions(self, server: str) -> int:
        """Current sessions of a server (``show stat``, column ``scur``)."""
        out = self.api.command("show stat")
        header: list[str] = []
        for ln in out.splitlines():
            if ln.startswith("# "):
                header = ln[2:].split(",")
                continue
            f = ln.split(",")
            if header and len(f) >= len(header) and f[0] == self.backend and f[1] == server:
                return int(f[header.index("scur")] or 0)
        return 0

    def apply(self, record: RoutingRecord | None) -> list[str]:
        """One pass towards ``record`` (None: drain everything); the commands sent."""
        wanted: dict[str, int] = {}
        if record is not None:
            mapping = haproxy_weights(record.weights)
            if mapping != self.last_mapping:
                log.info("haproxy %s weights for %s: %s (%s)", self.backend, self.service,
                         mapping.weights, mapping.describe())
            self.last_mapping = mapping
            for host, weight in zip(record.hosts, mapping.weights, strict=True):
                wanted[_endpoint(host)] = weight
        sent: list[str] = []
        servers = self.servers()
        by_endpoint: dict[str, ServerState] = {}
        for server in servers:
            if server.endpoint in wanted:
                by_endpoint.setdefault(server.endpoint, server)
        free = [s for s in servers if s.endpoint not in wanted and s.in_maint]
        used: set[str] = set()
        for endpoint, weight in wanted.items():
            found = by_endpoint.get(endpoint)
            if found is None and free:
                found = free.pop(0)
                addr, port = endpoint.rsplit(":", 1)
                self._run(f"set server {self.backend}/{found.name} addr {addr} port {port}")
                sent.append(f"addr {found.name} {endpoint}")
            if found is None:
                sent += self._add(endpoint, weight)
                continue
            used.add(found.name)
            sent += self._converge(found, weight)
        for server in servers:
            if server.name not in used:
                sent += self._retire(server)
        return sent

    def _converge(self, server: ServerState, weight: int) -> list[str]:
        sent = []
        name = f"{self.backend}/{server.name}"
        if server.weight != weight:
            self._run(f"set server {name} weight {weight}")
            sent.append(f"weight {server.name} {weight}")
        if server.in_maint or server.draining:
            self._run(f"set server {name} state ready")
            sent.append(f"ready {server.name}")
        return sent

    def _add(self, endpoint: str, weight: int) -> list[str]:
        name = ADDED_PREFIX + hashlib.blake2b(endpoint.encode(), digest_size=4).hexdigest()
        self._run(f"add server {self.backend}/{name} {endpoint} weight {weight}")
        self._run(f"enable server {self.backend}/{name}")
        return [f"add {name} {endpoint} {weight}"]

    def _retire(self, server: ServerState) -> list[str]:
        name = f"{self.backend}/{server.name}"
        if not server.in_maint and not server.draining:
            self._run(f"set server {name} state drain")
            return [f"drain {server.name}"]
        if server.draining and not server.in_maint and self.sessions(server.name) == 0:
            self._run(f"set server {name} state maint")
            sent = [f"maint {server.name}"]
            if server.name.startswith(ADDED_PREFIX):
                self._run(f"del server {name}")
                sent.append(f"del {server.name}")
            return sent
        return []


def _endpoint(host: str) -> str:
    """``ip:port`` for a routing host (names resolved now; HAProxy needs addresses)."""
    addr = parse_address(host)
    if addr.tls:
        raise ValidationError(f"routing host {host!r} is https://; the HAProxy sync handles "
                              "plain HTTP backends only")
    try:
        infos = socket.getaddrinfo(addr.host, addr.port, socket.AF_INET, socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise ValidationError(f"routing host {host!r} does not resolve: {e.strerror}") from None
    return f"{infos[0][4][0]}:{addr.port}"


def read_record(client: bus.Bus, keys: Keys, service: str) -> RoutingRecord | None:
    """The service's routing record now (None: no route). Raises ``ValidationError`` for a
    malformed one and ``BusError`` when Redis is away."""
    raw = client.get(keys.rtbl(service))
    if raw is None:
        return None
    try:
        return decode_routing_record(raw).validate()
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        raise ValidationError(f"malformed routing record at {keys.rtbl(service)}: {e}") from None


def run_sync(settings: Settings, sync: HaproxySync, *, once: bool = False,
             stop: threading.Event | None = None,
             announce: Callable[[str], None] | None = None) -> list[str]:
    """Keep ``sync`` in step with the routing table until ``stop`` is set (a pass on every
    change of the service's record and every ``SYNC_INTERVAL_S``); ``once``: one pass.
    Raises ``HaproxyError``/``BusError`` when HAProxy or Redis is unusable at start; later
    outages are logged once each and the sync retries."""
    keys = Keys(settings.namespace)
    sync.servers()  # the socket answers and the backend exists, or a clear error now
    client = bus.connect(settings)
    try:
        if announce is not None:
            announce(f"galileo lb haproxy: backend {sync.backend} of {sync.api.address} follows "
                     f"service {sync.service}")
        if once:
            return sync.apply(read_record(client, keys, sync.service))
        _follow(client, keys, sync, stop or threading.Event())
        return []
    finally:
        client.close()


def _follow(client: bus.Bus, keys: Keys, sync: HaproxySync, stop: threading.Event) -> None:
    pubsub = client.pubsub()
    pubsub.subscribe(keys.rtbl_updates)
    problem = ""
    due = 0.0
    try:
        while not stop.is_set():
            if time.monotonic() >= due:
                due = time.monotonic() + SYNC_INTERVAL_S
                try:
                    for line in sync.apply(read_record(client, keys, sync.service)):
                        log.info("haproxy %s: %s", sync.backend, line)
                    if problem:
                        log.warning("haproxy sync of %s works again", sync.backend)
                    problem = ""
                except GalileoError as e:
                    if str(e) != problem:
                        log.error("haproxy sync of %s: %s (retrying)", sync.backend, e)
                    problem = str(e)
            try:
                msg = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
            except BusError:
                time.sleep(0.1)
                continue
            if msg is not None and msg.get("type") == "message":
                name = bytes(msg["data"]).decode(errors="replace")
                if name in (sync.service, "*"):
                    due = 0.0
    finally:
        with contextlib.suppress(BusError):
            pubsub.close()
