"""Who may reach Galileo's network services: the rule the REST API (``galileo api``) and the
gRPC ExperimentService (``galileo grpc``) share.

* Without ``galileo_api_token`` a service binds loopback only; another interface is refused
  (:class:`ConfigError`, one sentence) unless the operator opts out explicitly
  (``--allow-open`` or ``galileo_api_allow_open=true``), which is logged loudly at start.
* With a token, every call must present it (``Authorization: Bearer <token>`` as an HTTP
  header or gRPC metadata), compared in constant time.

No web or gRPC framework is imported here: both services use it.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import TYPE_CHECKING, Final, NamedTuple

from galileo.errors import ConfigError

if TYPE_CHECKING:
    from pydantic import SecretStr

    from galileo.settings import Settings

LOOPBACK_HOST: Final = "127.0.0.1"
BEARER: Final = "bearer "


class Exposure(NamedTuple):
    """What a service is called in the bind messages and what an open one would let anyone do:
    ``risk`` completes "anyone reaching it could …", ``open_risk`` "anyone who can reach it
    can …"."""

    name: str
    risk: str
    open_risk: str


REST_API: Final = Exposure(
    "the API",
    "delete experiments, rewrite the routing table and spawn load",
    "stop experiments, rewrite the routing table and spawn load (deletes still go to the trash)")


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def open_bind_warning(host: str, port: int, settings: Settings, allow_open: bool,
                      exposure: Exposure = REST_API) -> str | None:
    """None when binding ``host`` is safe; the warning to log when it is open by the operator's
    choice; ``ConfigError`` when it would expose the service without a token."""
    if is_loopback(host) or settings.api_token is not None:
        return None
    if not (allow_open or settings.api_allow_open):
        raise ConfigError(
            f"refusing to serve {exposure.name} on {host}:{port} without galileo_api_token: "
            f"anyone reaching it could {exposure.risk}; "
            f"set galileo_api_token, bind {LOOPBACK_HOST}, or pass --allow-open")
    return (f"{exposure.name.upper()} ON {host}:{port} HAS NO TOKEN (--allow-open / "
            f"galileo_api_allow_open): anyone who can reach it can {exposure.open_risk}")


def token_matches(given: str | None, token: SecretStr) -> bool:
    """Whether ``given`` is the token, compared in constant time (None never matches)."""
    return given is not None and hmac.compare_digest(given.encode(),
                                                     token.get_secret_value().encode())


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value (scheme case-insensitive)."""
    if authorization is None or authorization[:len(BEARER)].lower() != BEARER:
        return None
    return authorization[len(BEARER):].strip()
