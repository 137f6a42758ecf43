"""Where request bytes come from: a fixed :class:`RequestSpec` (bytes cached per host) or a user
generator ``"module:callable"`` called once with ``**generator_args``; the object it returns
must have ``next_request()`` returning a ``RequestSpec`` or a dict of its fields."""

from __future__ import annotations

import importlib
from typing import Any, Protocol

import msgspec

from galileo.errors import ValidationError
from galileo.load.httpclient import build_request, parse_address
from galileo.protocol import RequestSpec


class RequestGenerator(Protocol):
    def next_request(self) -> RequestSpec | dict[str, Any]: ...


class RequestSource:
    """Produces ``(method, path, bytes)`` of the next request for a target host."""

    def __init__(self, spec: RequestSpec) -> None:
        self.spec = spec
        self._cache: dict[str, bytes] = {}
        self._gen: RequestGenerator | None = None
        if spec.generator:
            self._gen = load_generator(spec.generator, spec.generator_args)
        self.method = spec.method
        self.path = spec.path

    def next(self, target: str) -> tuple[str, str, bytes]:
        if self._gen is None:
            data = self._cache.get(target)
            if data is None:
                data = build_request(self.spec, parse_address(target).host_header)
                self._cache[target] = data
            return self.method, self.path, data
        spec = to_spec(self._gen.next_request(), self.spec.generator)
        return spec.method, spec.path, build_request(spec, parse_address(target).host_header)


def load_generator(name: str, args: dict[str, Any]) -> RequestGenerator:
    """Import ``module:callable`` and call it with ``**args``."""
    module_name, sep, attr = name.partition(":")
    if not sep or not module_name or not attr:
        raise ValidationError(f"request generator {name!r} must look like 'module:callable'")
    try:
        factory: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            factory = getattr(factory, part)
    except (ImportError, AttributeError) as e:
        raise ValidationError(f"request generator {name!r} cannot be loaded: {e}") from None
    gen = factory(**args)
    if not callable(getattr(gen, "next_request", None)):
        raise ValidationError(
            f"request generator {name!r} returned an object without next_request()"
        )
    result: RequestGenerator = gen
    return result


def to_spec(value: RequestSpec | dict[str, Any], source: str | None = None) -> RequestSpec:
    if isinstance(value, RequestSpec):
        return value
    try:
        return msgspec.convert(value, RequestSpec)
    except (msgspec.ValidationError, TypeError) as e:
        raise ValidationError(f"request generator {source!r} produced a bad request: {e}") from None
