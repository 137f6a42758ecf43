"""``classify``: a real digit classifier trained at start-up on the digits training split.

``POST /classify`` with ``{"image": [64 numbers 0..16]}`` answers
``{"label": d, "probabilities": [10 floats]}``; with ``{"images": [[...], ...]}`` it answers
``{"labels": [...], "probabilities": [[...], ...]}``. Inference is a small matrix product
(multinomial logistic regression), fast enough to run on the event loop.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import msgspec
import numpy as np
import numpy.typing as npt

from galileo.apps.digits import FloatArray, split
from galileo.apps.http import Handler, Request, Response, error_response, json_response
from galileo.apps.router import Router

log = logging.getLogger(__name__)

PIXELS = 64
PIXEL_MAX = 16.0
MAX_BATCH = 1024


class ClassifyRequest(msgspec.Struct, forbid_unknown_fields=True):
    image: list[float] | None = None
    images: list[list[float]] | None = None


_decode = msgspec.json.Decoder(ClassifyRequest).decode


class BadInput(ValueError):
    """Input the classifier refuses; the message is the one-sentence answer."""


@dataclass(frozen=True)
class DigitModel:
    """Softmax regression weights (pixels are scaled to 0..1 before use)."""

    weights: FloatArray  # (10, 64)
    bias: FloatArray  # (10,)

    @classmethod
    def train(cls) -> DigitModel:
        from sklearn.linear_model import LogisticRegression

        started = time.perf_counter()
        x_train, _, y_train, _ = split()
        model = LogisticRegression(C=10.0, max_iter=500)
        model.fit(x_train / PIXEL_MAX, y_train)
        log.info("digit classifier trained in %.2f s", time.perf_counter() - started)
        return cls(np.asarray(model.coef_, np.float64), np.asarray(model.intercept_, np.float64))

    def probabilities(self, images: FloatArray) -> FloatArray:
        """Class probabilities, one row per image (pixels 0..16)."""
        logits = (images / PIXEL_MAX) @ self.weights.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        result: FloatArray = e / e.sum(axis=1, keepdims=True)
        return result

    def predict(self, images: FloatArray) -> npt.NDArray[np.int64]:
        return np.asarray(self.probabilities(images).argmax(axis=1))


def parse_images(body: bytes) -> tuple[FloatArray, bool]:
    """The images of a request body and whether it was a batch; raises :class:`BadInput`."""
    try:
        req = _decode(body)
    except msgspec.ValidationError as e:
        raise BadInput(f"invalid classify request: {e}.") from e
    except msgspec.DecodeError as e:
        raise BadInput("request body is not valid JSON.") from e
    if (req.image is None) == (req.images is None):
        raise BadInput('give exactly one of "image" (64 numbers) or "images" (a list of them).')
    batch = req.images is not None
    rows: list[list[float]] = req.images if req.images is not None else [req.image or []]
    if not rows or len(rows) > MAX_BATCH:
        raise BadInput(f'"images" must hold between 1 and {MAX_BATCH} images.')
    if any(len(r) != PIXELS for r in rows):
        raise BadInput(f"each image must have exactly {PIXELS} pixel values (8x8, row-major).")
    images = np.asarray(rows, dtype=np.float64)
    if not np.isfinite(images).all() or images.min() < 0 or images.max() > PIXEL_MAX:
        raise BadInput("pixel values must be numbers between 0 and 16.")
    return images, batch


def make_handler(model: DigitModel) -> Handler:
    """The ``POST /classify`` handler for ``model``."""

    async def classify(req: Request) -> Response:
        try:
            images, batch = parse_images(req.body)
        except BadInput as e:
            return error_response(400, str(e))
        probs = model.probabilities(images)
        labels = probs.argmax(axis=1).tolist()
        rounded = np.round(probs, 6).tolist()
        if batch:
            return json_response({"labels": labels, "probabilities": rounded})
        return json_response({"label": labels[0], "probabilities": rounded[0]})

    return classify


def install(router: Router) -> None:
    """Train the model (< 1 s) and add ``POST /classify``."""
    router.post("/classify", make_handler(DigitModel.train()))
