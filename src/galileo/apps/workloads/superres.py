"""``superres``: image super-resolution-like heavy compute (numpy only).

``POST /superres`` with an optional body ``{"size": s, "scale": k, "seed": n}`` (defaults 64, 2,
0) generates an ``s``×``s`` RGB image from ``seed``, upscales it ×``k`` with bicubic
interpolation (two dense interpolation matrices), then refines it with ``BLOCKS`` residual blocks
of 3×3 convolutions (like RDN's feature blocks) and answers ``{"shape", "mean", "std"}``.
Resource signature: CPU-bound floating point (matrix products and convolutions in float32).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Final

import msgspec

from galileo.apps.http import Handler, Request, Response, error_response, json_response
from galileo.apps.router import Router

BLOCKS: Final = 12
MAX_SIZE: Final = 256
MAX_SCALE: Final = 4


class SuperResRequest(msgspec.Struct, forbid_unknown_fields=True):
    size: int = 64
    scale: int = 2
    seed: int = 0


_decode = msgspec.json.Decoder(SuperResRequest).decode


def _cubic(x: Any) -> Any:
    import numpy as np

    a = -0.5
    x = np.abs(x)
    return np.where(x <= 1, (a + 2) * x**3 - (a + 3) * x**2 + 1,
                    np.where(x < 2, a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a, 0.0))


@lru_cache(maxsize=32)
def interpolation_matrix(n: int, scale: int) -> Any:
    """(n*scale × n) bicubic interpolation matrix with clamped borders."""
    import numpy as np

    out = np.zeros((n * scale, n), np.float32)
    centers = (np.arange(n * scale) + 0.5) / scale - 0.5
    for offset in range(-1, 3):
        src = np.floor(centers).astype(int) + offset
        weight = _cubic(centers - src)
        np.add.at(out, (np.arange(n * scale), np.clip(src, 0, n - 1)), weight)
    return out


@lru_cache(maxsize=1)
def kernels(channels: int = 3) -> Any:
    import numpy as np

    rng = np.random.default_rng(4)
    k = rng.normal(0, 0.05, (BLOCKS, 3, 3, channels, channels)).astype(np.float32)
    return k


def upscale(image: Any, scale: int) -> Any:
    """Bicubic ×``scale`` then ``BLOCKS`` residual 3×3 convolution blocks."""
    import numpy as np

    h, w, _ = image.shape
    rows, cols = interpolation_matrix(h, scale), interpolation_matrix(w, scale)
    x = np.einsum("ij,jkc->ikc", rows, image)
    x = np.einsum("kl,ilc->ikc", cols, x).astype(np.float32)
    for block in kernels(image.shape[2]):
        padded = np.pad(x, ((1, 1), (1, 1), (0, 0)), mode="edge")
        acc = np.zeros_like(x)
        for dy in range(3):
            for dx in range(3):
                acc += padded[dy:dy + x.shape[0], dx:dx + x.shape[1]] @ block[dy, dx]
        x = x + np.maximum(acc, 0.0)
    return x


def make_handler() -> Handler:
    async def handler(req: Request) -> Response:
        import numpy as np

        try:
            spec = _decode(req.body) if req.body else SuperResRequest()
        except (msgspec.DecodeError, msgspec.ValidationError) as e:
            return error_response(400, f"invalid superres request: {e}.")
        if not (4 <= spec.size <= MAX_SIZE and 1 <= spec.scale <= MAX_SCALE):
            return error_response(400, f'"size" must be 4..{MAX_SIZE} and "scale" 1..{MAX_SCALE}.')
        image = np.random.default_rng(spec.seed).random((spec.size, spec.size, 3), np.float32)
        out = upscale(image, spec.scale)
        return json_response({"shape": list(out.shape), "mean": round(float(out.mean()), 6),
                              "std": round(float(out.std()), 6)})

    return handler


def install(router: Router) -> None:
    """Add ``POST /superres``."""
    router.post("/superres", make_handler())
