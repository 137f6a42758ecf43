"""Dashboard access: when ``galileo_api_token`` is set, pages need the token once (login page);
the browser then holds a **session id** (random, 256 bits) in an HttpOnly, SameSite=Strict
cookie, never the token. Sessions live in Redis with an expiry (:data:`SESSION_TTL_S`), so
every ``galileo api`` worker process knows them and *Log out* ends one everywhere. The
dashboard's JSON calls accept the session cookie or ``Authorization: Bearer <token>``."""

from __future__ import annotations

import contextlib
import secrets
from typing import Final
from urllib.parse import quote

from fastapi import HTTPException, Request

from galileo.access import bearer_token, token_matches
from galileo.control import Galileo
from galileo.errors import GalileoError
from galileo.settings import Settings

COOKIE: Final = "galileo_session"
SESSION_TTL_S: Final = 12 * 3600


class LoginRequired(Exception):
    """Raised by :func:`require_page`; the app answers with a redirect to the login page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def token_ok(settings: Settings, given: str | None) -> bool:
    token = settings.api_token
    return token is None or token_matches(given, token)


def new_session(g: Galileo, ttl_s: int = SESSION_TTL_S) -> str:
    """Start a session (after a correct token); returns its id for the cookie."""
    sid = secrets.token_hex(32)
    g.redis.set(g.keys.dashboard_session(sid), "1", ex=ttl_s)
    return sid


def session_ok(g: Galileo, sid: str | None) -> bool:
    """True for a session id that exists and has not expired (server side)."""
    if not sid:
        return False
    try:
        return bool(g.redis.exists(g.keys.dashboard_session(sid)))
    except GalileoError:  # a malformed cookie, or Redis away: not logged in
        return False


def end_session(g: Galileo, sid: str | None) -> None:
    if sid:
        with contextlib.suppress(GalileoError):
            g.redis.delete(g.keys.dashboard_session(sid))


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.resources.settings
    return settings


def _allowed(request: Request) -> bool:
    settings = _settings(request)
    if settings.api_token is None:
        return True
    token = bearer_token(request.headers.get("authorization"))
    if token is not None:
        return token_ok(settings, token)
    return session_ok(request.app.state.resources.galileo(), request.cookies.get(COOKIE))


def require_page(request: Request) -> None:
    if not _allowed(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired("/login?next=" + quote(target, safe=""))


def require_api(request: Request) -> None:
    if not _allowed(request):
        raise HTTPException(status_code=401, detail="log in first: the dashboard needs "
                                                    "galileo_api_token (session or bearer)")
