"""``scenedetect``: PySceneDetect-like content detection over a generated video.

At start-up a ``FRAMES``-frame RGB video (``HEIGHT``×``WIDTH``, ~26 MiB) with random scene cuts
is generated. ``GET /scenes?frames=N&start=S`` (default 48 frames from where the previous request
stopped) computes the mean absolute change between consecutive frames and reports the frames
where it exceeds ``THRESHOLD`` as cuts: ``{"start", "frames", "cuts": [...]}``. Resource
signature: memory bandwidth (streams ~2 MiB of frames per request through simple arithmetic).
"""

from __future__ import annotations

import itertools
from typing import Any, Final

from galileo.apps.http import Handler, Request, Response, error_response, json_response
from galileo.apps.router import Router
from galileo.apps.workloads._common import BadParam, int_param

FRAMES: Final = 600
HEIGHT: Final = 96
WIDTH: Final = 160
THRESHOLD: Final = 30.0
DEFAULT_FRAMES: Final = 48


def make_video(frames: int = FRAMES, seed: int = 3) -> tuple[Any, list[int]]:
    """Frames (uint8, frames×H×W×3) and the true cut positions."""
    import numpy as np

    rng = np.random.default_rng(seed)
    cuts = sorted(set(rng.integers(10, frames - 1, frames // 40).tolist()))
    video = np.empty((frames, HEIGHT, WIDTH, 3), np.uint8)
    ramp = np.linspace(0, 40, WIDTH, dtype=np.float32)[None, :, None]
    start = 0
    base = rng.integers(0, 200, 3).astype(np.float32)
    for end in [*cuts, frames]:
        if start:  # every channel moves by at least 70 levels at a cut
            base = (base + rng.integers(70, 131, 3)) % 200
        for f in range(start, end):
            noise = rng.integers(0, 8, (HEIGHT, WIDTH, 1)).astype(np.float32)
            video[f] = np.clip(base + np.roll(ramp, f - start, axis=1) + noise, 0, 255)
        start = end
    return video, cuts


def detect(video: Any, start: int, count: int) -> list[int]:
    """Indices ``i`` in ``[start+1, start+count)`` where frame i differs from i-1 by a cut."""
    import numpy as np

    chunk = video[start:start + count].astype(np.int16)
    change = np.abs(np.diff(chunk, axis=0)).mean(axis=(1, 2, 3))
    return [start + 1 + int(i) for i in np.flatnonzero(change > THRESHOLD)]


def make_handler(video: Any) -> Handler:
    total = len(video)
    position = itertools.count()

    async def handler(req: Request) -> Response:
        try:
            count = int_param(req, "frames", DEFAULT_FRAMES, 2, total)
            start = int_param(req, "start", -1, -1, total - 2)
        except BadParam as e:
            return error_response(400, str(e))
        if start < 0:
            start = (next(position) * (count - 1)) % (total - count + 1)
        count = min(count, total - start)
        return json_response({"start": start, "frames": count,
                              "cuts": detect(video, start, count)})

    return handler


def install(router: Router) -> None:
    """Generate the video (~1 s) and add ``GET /scenes``."""
    video, _ = make_video()
    router.get("/scenes", make_handler(video))
