"""Request generators for Galileo clients, loaded by name (``galileo.apps.generators:digits``).

Each is a factory returning an object whose ``next_request()`` gives a request dict
(``method``, ``path``, ``headers``, ``body`` bytes); bodies are encoded once, up front.
"""

from __future__ import annotations

import itertools
from typing import Any

import msgspec

from galileo.errors import ValidationError

__all__ = ["DigitsRequests", "EchoRequests", "digits", "echo"]

JSON_HEADERS = {"Content-Type": "application/json"}
OCTET_HEADERS = {"Content-Type": "application/octet-stream"}
MAX_ECHO_BYTES = 16 * 1024 * 1024


class DigitsRequests:
    """Cycles through the held-out digit images as ``POST /classify`` requests."""

    def __init__(self, batch: int = 1, path: str = "/classify") -> None:
        from galileo.apps.digits import split

        if batch < 1:
            raise ValidationError(f"digits generator: batch must be at least 1, got {batch}.")
        _, x_test, _, y_test = split()
        rows = x_test.astype(int).tolist()
        labels = y_test.tolist()
        self.bodies: list[bytes] = []
        self.labels: list[list[int]] = []  # expected labels, per request
        for i in range(0, len(rows), batch):
            chunk = rows[i : i + batch]
            payload = {"image": chunk[0]} if batch == 1 else {"images": chunk}
            self.bodies.append(msgspec.json.encode(payload))
            self.labels.append(labels[i : i + batch])
        self.path = path
        self._next = itertools.cycle(self.bodies).__next__

    def next_request(self) -> dict[str, Any]:
        return {"method": "POST", "path": self.path, "headers": dict(JSON_HEADERS),
                "body": self._next()}


class EchoRequests:
    """``POST /echo`` with a fixed ``size``-byte body (``size=0``: ``GET /echo``)."""

    def __init__(self, size: int = 64, path: str = "/echo") -> None:
        if not 0 <= size <= MAX_ECHO_BYTES:
            raise ValidationError(
                f"echo generator: size must be between 0 and {MAX_ECHO_BYTES}, got {size}."
            )
        self.body = bytes(b"x" * size)
        if size:
            self._request: dict[str, Any] = {
                "method": "POST", "path": path, "headers": OCTET_HEADERS, "body": self.body}
        else:
            self._request = {"method": "GET", "path": path, "headers": {}, "body": b""}

    def next_request(self) -> dict[str, Any]:
        return dict(self._request)


def digits(batch: int = 1, path: str = "/classify") -> DigitsRequests:
    """Generator of classify requests over held-out digits (``batch`` images per request)."""
    return DigitsRequests(batch=batch, path=path)


def echo(size: int = 64, path: str = "/echo") -> EchoRequests:
    """Generator of echo requests with a ``size``-byte body."""
    return EchoRequests(size=size, path=path)
