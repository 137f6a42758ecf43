"""Static files of the dashboard served compressed and cached: gzip when the browser accepts
it (compressed once per process), a content ETag (``If-None-Match`` answers 304) and
``Cache-Control`` (a day for plotly.js, whose name carries no version; revalidated for
the dashboard's own script)."""

from __future__ import annotations

import functools
import gzip
import hashlib
from typing import Final

from fastapi import Request
from fastapi.responses import Response

# a small "G" on the project's dark blue: the tab icon (no 404 for /favicon.ico)
FAVICON_SVG: Final = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    b'<rect width="32" height="32" rx="6" fill="#24292f"/>'
    b'<path d="M22 11a8 8 0 1 0 1.5 7H16" fill="none" stroke="#fff" stroke-width="3.5"'
    b' stroke-linecap="round"/></svg>')


class Asset:
    """One file's bytes, its gzip form (made on first use) and its ETag."""

    def __init__(self, body: bytes, media_type: str, max_age_s: int | None = None) -> None:
        self.body = body
        self.media_type = media_type
        self.cache_control = f"public, max-age={max_age_s}" if max_age_s else "no-cache"
        self.etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'

    @functools.cached_property
    def gzipped(self) -> bytes:
        return gzip.compress(self.body, compresslevel=9, mtime=0)

    def response(self, request: Request) -> Response:
        headers = {"ETag": self.etag, "Cache-Control": self.cache_control,
                   "Vary": "Accept-Encoding"}
        if self.etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        if "gzip" in request.headers.get("accept-encoding", ""):
            return Response(self.gzipped, media_type=self.media_type,
                            headers={**headers, "Content-Encoding": "gzip"})
        return Response(self.body, media_type=self.media_type, headers=headers)
