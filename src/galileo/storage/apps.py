"""The client-app repository in the expdb: request generators distributed as zips (the format
and its validation: :mod:`galileo.client_apps`). Stored apps carry the SHA-256 of their zip,
which workers check after downloading (``galileo.worker.apps``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa

from galileo.client_apps import MAX_APP_BYTES, inspect_app
from galileo.errors import NotFoundError
from galileo.storage.schema import client_apps

if TYPE_CHECKING:
    from galileo.storage.expdb import ExpDB

@dataclass(frozen=True, slots=True)
class ClientApp:
    """One stored app (without its content)."""

    name: str
    sha256: str
    size: int
    manifest: dict[str, Any]
    uploaded: float

    def public(self) -> dict[str, Any]:
        return {"name": self.name, "sha256": self.sha256, "size": self.size,
                "manifest": self.manifest, "uploaded": self.uploaded}


def _app(row: sa.RowMapping) -> ClientApp:
    return ClientApp(name=row["name"], sha256=row["sha256"], size=int(row["size"]),
                     manifest=dict(row["manifest"]), uploaded=float(row["uploaded"]))


_COLUMNS: Final = (client_apps.c.name, client_apps.c.sha256, client_apps.c.size,
                   client_apps.c.manifest, client_apps.c.uploaded)


class ClientAppRepository:
    """Store, list, fetch and delete client apps in an :class:`ExpDB`."""

    def __init__(self, db: ExpDB, max_bytes: int = MAX_APP_BYTES) -> None:
        self.db = db
        self.max_bytes = max_bytes

    def put(self, data: bytes) -> ClientApp:
        """Validate and store an app (replacing one of the same name)."""
        manifest, sha = inspect_app(data, self.max_bytes)
        app = ClientApp(manifest["name"], sha, len(data), manifest, time.time())
        with self.db.transaction() as tx:
            tx.conn.execute(client_apps.delete().where(client_apps.c.name == app.name))
            tx.conn.execute(client_apps.insert().values(content=data, **app.public()))
        return app

    def list(self) -> list[ClientApp]:
        with self.db._read() as conn:
            rows = conn.execute(sa.select(*_COLUMNS).order_by(client_apps.c.name)).mappings()
            return [_app(r) for r in rows]

    def get(self, name: str) -> ClientApp:
        with self.db._read() as conn:
            row = conn.execute(sa.select(*_COLUMNS).where(client_apps.c.name == name)
                               ).mappings().first()
        if row is None:
            raise NotFoundError(f"no client app named {name!r}")
        return _app(row)

    def content(self, name: str) -> tuple[ClientApp, bytes]:
        with self.db._read() as conn:
            row = conn.execute(sa.select(*_COLUMNS, client_apps.c.content)
                               .where(client_apps.c.name == name)).mappings().first()
        if row is None:
            raise NotFoundError(f"no client app named {name!r}")
        return _app(row), bytes(row["content"])

    def delete(self, name: str) -> None:
        with self.db.transaction() as tx:
            done = tx.conn.execute(client_apps.delete().where(client_apps.c.name == name))
        if not done.rowcount:
            raise NotFoundError(f"no client app named {name!r}")
