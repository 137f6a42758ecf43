"""``echo``: returns the request body; the cheapest possible service (a benchmark target)."""

from __future__ import annotations

from galileo.apps.http import OCTET_TYPE, Request, Response, text_response
from galileo.apps.router import Router

_GET_ANSWER = text_response("echo\n")


async def echo(req: Request) -> Response:
    """POST: the body back with its content type; GET: a short text."""
    if req.method == "GET" and not req.body:
        return _GET_ANSWER
    content_type = req.header("content-type", OCTET_TYPE) if req.body else OCTET_TYPE
    return Response(200, req.body, content_type)


def install(router: Router) -> None:
    """Add ``GET|POST /echo`` and ``/echo/<anything>``."""
    for path in ("/echo", "/echo/*"):
        router.add(("GET", "POST"), path, echo)
