"""Maps (method, path) to a handler: exact paths first, then path prefixes (``/echo/``)."""

from __future__ import annotations

from galileo.apps.http import Handler, Request, Response, error_response
from galileo.errors import ValidationError

__all__ = ["Router"]


class Router:
    """Routes requests; unknown paths answer 404, known paths with another method 405."""

    def __init__(self) -> None:
        self._exact: dict[str, dict[str, Handler]] = {}
        self._prefixes: list[tuple[str, dict[str, Handler]]] = []

    def add(self, methods: str | tuple[str, ...], path: str, handler: Handler) -> None:
        """Route ``methods`` on ``path``; a path ending in ``/*`` matches everything below it."""
        if not path.startswith("/"):
            raise ValidationError(f"route path {path!r} must start with '/'.")
        names = (methods,) if isinstance(methods, str) else methods
        if path.endswith("/*"):
            table = self._prefix_table(path[:-1])
        else:
            table = self._exact.setdefault(path, {})
        for method in names:
            if method.upper() in table:
                raise ValidationError(f"route {method.upper()} {path} is defined twice.")
            table[method.upper()] = handler

    def get(self, path: str, handler: Handler) -> None:
        self.add("GET", path, handler)

    def post(self, path: str, handler: Handler) -> None:
        self.add("POST", path, handler)

    def routes(self) -> list[tuple[str, str]]:
        """Every (method, path) pair, prefixes shown as ``/prefix/*``."""
        out = [(m, p) for p, t in self._exact.items() for m in t]
        out += [(m, p + "*") for p, t in self._prefixes for m in t]
        return sorted(out, key=lambda mp: (mp[1], mp[0]))

    def resolve(self, method: str, path: str) -> Handler:
        """The handler for a request; 404/405 answers come back as handlers too."""
        table = self._exact.get(path)
        if table is None:
            for prefix, candidate in self._prefixes:
                if path.startswith(prefix):
                    table = candidate
                    break
            else:
                return _not_found
        handler = table.get(method)
        if handler is None:
            return _method_not_allowed(sorted(table))
        return handler

    def _prefix_table(self, prefix: str) -> dict[str, Handler]:
        for known, existing in self._prefixes:
            if known == prefix:
                return existing
        table: dict[str, Handler] = {}
        self._prefixes.append((prefix, table))
        self._prefixes.sort(key=lambda pt: -len(pt[0]))  # longest prefix wins
        return table


async def _not_found(req: Request) -> Response:
    return error_response(404, f"no route for path {req.path}.")


def _method_not_allowed(allowed: list[str]) -> Handler:
    allow = ", ".join(allowed)

    async def handler(req: Request) -> Response:
        return error_response(
            405, f"method {req.method} is not allowed on {req.path} (allowed: {allow}).",
            {"allow": allow},
        )

    return handler
