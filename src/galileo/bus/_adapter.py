"""The Redis adapter: connection options from ``Settings``, short retries, and error mapping.

Every call on a :class:`Bus`/:class:`AsyncBus` (and on the pipelines and pub/sub objects they
return) goes to redis-py unchanged; what comes back is the same, except that any redis-py error
(or socket error) leaves as a :class:`~galileo.errors.BusError` naming where Redis is.
"""

from __future__ import annotations

import functools
import inspect
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path
from typing import Any, Final

import redis
import redis.asyncio as aredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

from galileo.bus._embedded import ensure_embedded_redis
from galileo.errors import BusAuthError, BusConflict, BusError, BusUnavailable
from galileo.settings import Settings

log = logging.getLogger("galileo.bus")

RETRY_BASE_S: Final = 0.05
RETRY_CAP_S: Final = 1.0
_RETRY_ON: Final = [redis.ConnectionError, redis.TimeoutError]
_AUTH_ERRORS: Final = (redis.AuthenticationError, redis.exceptions.AuthorizationError,
                       redis.exceptions.NoPermissionError,
                       redis.exceptions.AuthenticationWrongNumberOfArgsError)
_UNAVAILABLE: Final = (redis.ConnectionError, redis.TimeoutError, OSError)
_WRAPPED_TYPES: Final = (redis.client.Pipeline, redis.client.PubSub,
                         aredis.client.Pipeline, aredis.client.PubSub)


def map_error(e: BaseException, where: str) -> BusError:
    """The Galileo error for a redis-py (or socket) error ``e`` met talking to ``where``."""
    if isinstance(e, BusError):
        return e
    text = str(e).strip() or type(e).__name__
    if isinstance(e, redis.WatchError):
        return BusConflict(f"a watched key changed at {where}: {text}")
    if isinstance(e, _AUTH_ERRORS):
        return BusAuthError(f"Redis at {where} refused the credentials: {text} "
                            "(check galileo_redis_username/galileo_redis_password)")
    if isinstance(e, _UNAVAILABLE):
        return BusUnavailable(f"cannot reach Redis at {where}: {text}")
    return BusError(f"Redis at {where} failed: {text}")


class _Guarded:
    """Proxy for a redis-py object: calls pass through, errors are mapped, and the pipelines,
    pub/subs, awaitables and iterators it returns are guarded the same way."""

    __slots__ = ("__dict__", "_raw", "_where")
    # Long-lived clients keep their wrapped methods (faster next lookups). Short-lived wrappers
    # (a pipeline per batch) must not: a kept method refers back to its wrapper, and that cycle
    # held each pipeline until a full garbage collection, which a load process rarely runs.
    _keep_methods: bool = False

    def __init__(self, raw: Any, where: str) -> None:
        self._raw = raw
        self._where = where

    @property
    def where(self) -> str:
        """Where Redis is, for messages (no password)."""
        return self._where

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._raw, name)
        if not callable(attr):
            return attr

        @functools.wraps(attr)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                result = attr(*args, **kwargs)
            except (redis.RedisError, OSError) as e:
                raise map_error(e, self._where) from e
            return self._guard(result)

        if self._keep_methods:
            self.__dict__[name] = call  # next lookups skip __getattr__
        return call

    def _guard(self, result: Any) -> Any:
        if result is self._raw:
            return self
        if isinstance(result, _WRAPPED_TYPES):
            return _Guarded(result, self._where)
        if inspect.isawaitable(result):
            return self._await(result)
        if inspect.isgenerator(result):
            return self._iterate(result)
        if inspect.isasyncgen(result):
            return self._aiterate(result)
        return result

    async def _await(self, awaitable: Awaitable[Any]) -> Any:
        try:
            return self._guard(await awaitable)
        except (redis.RedisError, OSError) as e:
            raise map_error(e, self._where) from e

    def _iterate(self, it: Iterator[Any]) -> Iterator[Any]:
        try:
            yield from it
        except (redis.RedisError, OSError) as e:
            raise map_error(e, self._where) from e

    async def _aiterate(self, it: AsyncIterator[Any]) -> AsyncIterator[Any]:
        try:
            async for item in it:
                yield item
        except (redis.RedisError, OSError) as e:
            raise map_error(e, self._where) from e

    # pipelines are context managers (sync and async)
    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.__getattr__("reset")()

    async def __aenter__(self) -> Any:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.__getattr__("reset")()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._where}>"


class Bus(_Guarded):
    """A sync Redis client behind the boundary (redis-py's command API, Galileo's errors)."""

    _keep_methods = True

    def ping_ok(self) -> bool:
        """True when Redis answers now (never raises)."""
        try:
            return bool(self.ping())
        except BusError:
            return False


class AsyncBus(_Guarded):
    """An asyncio Redis client behind the boundary; ``await`` its commands as in redis-py."""

    _keep_methods = True

    async def ping_ok(self) -> bool:
        """True when Redis answers now (never raises)."""
        try:
            return bool(await self.ping())
        except BusError:
            return False


def _url(settings: Settings) -> str:
    if settings.embedded_redis:
        ensure_embedded_redis(settings.data_dir)
    return settings.redis_connection_url()


def client_options(settings: Settings, url: str) -> dict[str, Any]:
    """redis-py connection options for ``settings`` (timeouts, credentials, TLS files)."""
    opts: dict[str, Any] = {"socket_connect_timeout": settings.redis_connect_timeout_s,
                            "retry_on_error": list(_RETRY_ON)}
    if settings.redis_username and "@" not in url:
        opts["username"] = settings.redis_username
    if settings.redis_password is not None and "@" not in url:
        opts["password"] = settings.redis_password.get_secret_value()
    if url.startswith("rediss://"):
        for option, path in (("ssl_ca_certs", settings.redis_tls_ca),
                             ("ssl_certfile", settings.redis_tls_cert),
                             ("ssl_keyfile", settings.redis_tls_key)):
            if path is not None:
                opts[option] = str(_readable(path, option))
        opts["ssl_check_hostname"] = settings.redis_tls_check_hostname
    return opts


def _readable(path: Path, option: str) -> Path:
    if not path.is_file():
        from galileo.errors import ConfigError

        setting = {"ssl_ca_certs": "redis_tls_ca", "ssl_certfile": "redis_tls_cert",
                   "ssl_keyfile": "redis_tls_key"}[option]
        raise ConfigError(f"galileo_{setting}: no such file {str(path)!r}")
    return path


def connect(settings: Settings, *, check: bool = True, **kwargs: Any) -> Bus:
    """A sync client for ``settings``; with ``check``, ``BusError`` when Redis does not answer."""
    url = _url(settings)
    where = describe(settings)
    opts = client_options(settings, url) | kwargs
    retry = Retry(ExponentialWithJitterBackoff(cap=RETRY_CAP_S, base=RETRY_BASE_S),
                  settings.redis_retries)
    try:
        client = Bus(redis.Redis.from_url(url, retry=retry, **opts), where)
    except (ValueError, TypeError) as e:
        raise BusError(f"bad Redis URL or option for {where}: {e}") from None
    if check:
        client.ping()
    return client


def connect_async(settings: Settings, **kwargs: Any) -> AsyncBus:
    """An asyncio client for ``settings`` (connects lazily, on its first command)."""
    url = _url(settings)
    where = describe(settings)
    opts = client_options(settings, url) | kwargs
    retry = AsyncRetry(ExponentialWithJitterBackoff(cap=RETRY_CAP_S, base=RETRY_BASE_S),
                       settings.redis_retries)
    try:
        return AsyncBus(aredis.Redis.from_url(url, retry=retry, **opts), where)
    except (ValueError, TypeError) as e:
        raise BusError(f"bad Redis URL or option for {where}: {e}") from None


def describe(settings: Settings) -> str:
    """Where Redis is, for messages (no password)."""
    if settings.embedded_redis:
        return f"embedded ({settings.embedded_redis_socket})"
    if settings.redis_url:
        from redis.connection import parse_url

        try:
            parsed = parse_url(settings.redis_url)  # type: ignore[no-untyped-call]
        except ValueError:
            return "<invalid galileo_redis_url>"
        if "path" in parsed:
            return str(parsed["path"])
        return f"{parsed.get('host', 'localhost')}:{parsed.get('port', 6379)}"
    return f"{settings.redis_host}:{settings.redis_port}"


class Backoff:
    """Delays for a reconnect loop: exponential from ``base_s`` to ``cap_s`` with jitter;
    :meth:`reset` after a success."""

    def __init__(self, base_s: float = 0.1, cap_s: float = 2.0) -> None:
        self.base_s = base_s
        self.cap_s = cap_s
        self.failures = 0

    def next_delay(self) -> float:
        delay = min(self.cap_s, self.base_s * 2.0 ** min(self.failures, 30))
        self.failures += 1
        return delay * (0.5 + random.random() / 2)

    def reset(self) -> None:
        self.failures = 0


class Outage:
    """Logs a bus outage once when it begins and once when it ends (not every retry)."""

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self._log = logger
        self.what = what
        self.down = False

    def failed(self, e: BaseException) -> bool:
        """Record a failure; True (and one warning) when this starts an outage."""
        if self.down:
            return False
        self.down = True
        self._log.warning("%s: %s; retrying with backoff", self.what, e)
        return True

    def ok(self) -> bool:
        """Record a success; True (and one info line) when this ends an outage."""
        if not self.down:
            return False
        self.down = False
        self._log.warning("%s: Redis reachable again", self.what)
        return True

