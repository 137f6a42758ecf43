"""Where request bytes come from: a fixed :class:`RequestSpec` (bytes cached per host) or a
request generator whose ``next_request()`` returns a ``RequestSpec`` or a dict of its fields.

The load layer never imports code by name: the generator object is built by the worker
(:func:`galileo.worker.generators.make_generator`, which enforces the operator's allow-list)
and handed in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import msgspec

from galileo.errors import GalileoError, ValidationError
from galileo.load.httpclient import build_request, parse_address
from galileo.protocol import RequestSpec


class RequestGenerator(Protocol):
    def next_request(self) -> RequestSpec | dict[str, Any]: ...


GeneratorFactory = Callable[..., RequestGenerator]


class RequestSource:
    """Produces ``(method, path, bytes)`` of the next request for a target host."""

    def __init__(self, spec: RequestSpec, generator: RequestGenerator | None = None) -> None:
        self.spec = spec
        self._cache: dict[str, bytes] = {}
        if spec.generator and generator is None:
            raise ValidationError(f"request generator {spec.generator} was not resolved "
                                  "(generators are built by the worker)")
        self._gen = generator if spec.generator else None
        self.method = spec.method
        self.path = spec.path

    def next(self, target: str) -> tuple[str, str, bytes]:
        if self._gen is None:
            data = self._cache.get(target)
            if data is None:
                data = build_request(self.spec, parse_address(target).host_header)
                self._cache[target] = data
            return self.method, self.path, data
        try:
            value = self._gen.next_request()
        except GalileoError:
            raise
        except Exception as e:  # user code: one sentence, never a traceback on the loop
            raise ValidationError(f"request generator {self.spec.generator}: next_request() "
                                  f"failed: {type(e).__name__}: {e}") from None
        spec = to_spec(value, self.spec.generator)
        return spec.method, spec.path, build_request(spec, parse_address(target).host_header)


def to_spec(value: RequestSpec | dict[str, Any], source: str | None = None) -> RequestSpec:
    if isinstance(value, RequestSpec):
        return value
    try:
        return msgspec.convert(value, RequestSpec)
    except (msgspec.ValidationError, TypeError) as e:
        raise ValidationError(f"request generator {source!r} produced a bad request: {e}") from None
