"""``kv``: a Redis-like in-memory key-value store.

``GET /kv/<key>`` answers the value (404 when absent), ``PUT|POST /kv/<key>`` stores the body,
``DELETE /kv/<key>`` removes it. At start-up ``PRELOAD_KEYS`` keys ``k<i>`` are loaded with
``VALUE_BYTES``-byte values, so the store is memory-resident (~40 MiB). Resource signature: light
CPU per request (parsing, hashing, copying), dominated by per-request overhead; its working set
is large enough to be hurt by a neighbour that trashes the caches.
"""

from __future__ import annotations

from typing import Final

from galileo.apps.http import (
    OCTET_TYPE,
    Handler,
    Request,
    Response,
    error_response,
    json_response,
)
from galileo.apps.router import Router

PRELOAD_KEYS: Final = 100_000
VALUE_BYTES: Final = 256
MAX_VALUE_BYTES: Final = 1 << 20
PREFIX: Final = "/kv/"


def preload(keys: int = PRELOAD_KEYS, size: int = VALUE_BYTES) -> dict[str, bytes]:
    """``keys`` entries ``k0..k<keys-1>`` with distinct ``size``-byte values."""
    import numpy as np

    blob = np.random.default_rng(0).bytes(size + keys)
    return {f"k{i}": blob[i:i + size] for i in range(keys)}


def make_handler(store: dict[str, bytes]) -> Handler:
    async def handler(req: Request) -> Response:
        key = req.path[len(PREFIX):]
        if not key:
            return error_response(400, "the key is missing: use /kv/<key>.")
        if req.method == "GET":
            value = store.get(key)
            if value is None:
                return error_response(404, f"no key {key!r}.")
            return Response(200, value, OCTET_TYPE)
        if req.method == "DELETE":
            return json_response({"deleted": store.pop(key, None) is not None})
        if len(req.body) > MAX_VALUE_BYTES:
            return error_response(413, f"values are limited to {MAX_VALUE_BYTES} bytes.")
        store[key] = req.body
        return json_response({"stored": len(req.body)})

    return handler


def install(router: Router) -> None:
    """Preload the store and add ``/kv/<key>`` (GET, PUT, POST, DELETE)."""
    router.add(("GET", "PUT", "POST", "DELETE"), PREFIX + "*", make_handler(preload()))
