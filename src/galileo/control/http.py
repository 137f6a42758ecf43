"""One HTTP request from the controller (``g.request``), made with the stdlib ``http.client``."""

from __future__ import annotations

import http.client
import json as jsonlib
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from galileo.errors import GalileoError
from galileo.protocol import request_failed


@dataclass(frozen=True)
class Response:
    """What came back: status, headers, body and how long it took."""

    status: int
    headers: dict[str, str]
    body: bytes
    elapsed_s: float
    host: str
    url: str = field(default="")

    @property
    def elapsed_ms(self) -> float:
        return self.elapsed_s * 1000.0

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return jsonlib.loads(self.body)

    @property
    def ok(self) -> bool:
        return not request_failed(self.status, "")


class RequestFailed(GalileoError):
    """The HTTP request could not be completed (connect refused, timeout, …)."""


def split_host(host: str) -> tuple[str, str, int]:
    """``'h:8080'`` / ``'http://h:8080'`` / ``'https://h'`` -> (scheme, hostname, port)."""
    url = urlsplit(host if "://" in host else f"http://{host}")
    scheme = url.scheme or "http"
    port = url.port or (443 if scheme == "https" else 80)
    return scheme, url.hostname or "localhost", port


def send(host: str, method: str = "GET", path: str = "/", headers: dict[str, str] | None = None,
         body: bytes | None = None, json: Any = None, timeout: float = 10.0) -> Response:
    """Send one request to ``host`` (``host:port`` or URL) and read the whole response."""
    scheme, hostname, port = split_host(host)
    hdrs = dict(headers or {})
    if json is not None:
        body = jsonlib.dumps(json).encode()
        hdrs.setdefault("Content-Type", "application/json")
    if not path.startswith("/"):
        path = "/" + path
    conn_cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
    conn = conn_cls(hostname, port, timeout=timeout)
    url = f"{scheme}://{hostname}:{port}{path}"
    start = time.perf_counter()
    try:
        conn.request(method.upper(), path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        elapsed = time.perf_counter() - start
        return Response(status=resp.status, headers=dict(resp.getheaders()), body=data,
                        elapsed_s=elapsed, host=host, url=url)
    except (OSError, http.client.HTTPException) as e:
        raise RequestFailed(f"{method.upper()} {url} failed: {e or type(e).__name__}") from None
    finally:
        conn.close()
