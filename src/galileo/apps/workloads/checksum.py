"""``checksum``: SHA-256 over slices of a large generated blob.

``GET /checksum?kib=N`` (default 4096, at most 65536) hashes the next ``N`` KiB of a 64 MiB blob
(generated from a fixed seed at start-up; successive requests walk through it) and answers
``{"sha256": hex, "offset": o, "bytes": n}``. Resource signature: CPU (hashing) and memory
bandwidth (the blob is far larger than the last-level cache).
"""

from __future__ import annotations

import hashlib
import itertools
from typing import Final

from galileo.apps.http import Handler, Request, Response, error_response, json_response
from galileo.apps.router import Router
from galileo.apps.workloads._common import BadParam, int_param

BLOB_BYTES: Final = 64 << 20
DEFAULT_KIB: Final = 4096
MAX_KIB: Final = 65536


def make_blob(size: int = BLOB_BYTES) -> bytes:
    import numpy as np

    return np.random.default_rng(1).bytes(size)


def make_handler(blob: bytes) -> Handler:
    view = memoryview(blob)
    counter = itertools.count()

    async def handler(req: Request) -> Response:
        try:
            size = int_param(req, "kib", DEFAULT_KIB, 1, MAX_KIB) * 1024
        except BadParam as e:
            return error_response(400, str(e))
        size = min(size, len(blob))
        offset = (next(counter) * size) % max(len(blob) - size + 1, 1)
        digest = hashlib.sha256(view[offset:offset + size]).hexdigest()
        return json_response({"sha256": digest, "offset": offset, "bytes": size})

    return handler


def install(router: Router) -> None:
    """Generate the blob and add ``GET /checksum``."""
    router.get("/checksum", make_handler(make_blob()))
