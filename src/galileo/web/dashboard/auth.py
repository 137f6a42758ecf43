"""Dashboard access: when ``galileo_api_token`` is set, pages need the token once (login page,
then an HttpOnly, SameSite=Strict cookie) and the dashboard's JSON calls accept the cookie or
``Authorization: Bearer <token>``."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import HTTPException, Request

from galileo.access import bearer_token, token_matches
from galileo.settings import Settings

COOKIE = "galileo_token"


class LoginRequired(Exception):
    """Raised by :func:`require_page`; the app answers with a redirect to the login page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def token_ok(settings: Settings, given: str | None) -> bool:
    token = settings.api_token
    return token is None or token_matches(given, token)


def _given(request: Request) -> str | None:
    token = bearer_token(request.headers.get("authorization"))
    return token if token is not None else request.cookies.get(COOKIE)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.resources.settings
    return settings


def require_page(request: Request) -> None:
    if not token_ok(_settings(request), _given(request)):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired("/login?next=" + quote(target, safe=""))


def require_api(request: Request) -> None:
    if not token_ok(_settings(request), _given(request)):
        raise HTTPException(status_code=401, detail="log in first: the dashboard needs "
                                                    "galileo_api_token (cookie or bearer)")
