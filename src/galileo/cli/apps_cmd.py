"""``galileo apps ls|show|deploy --path P|rm NAME``: the client-app repository through the REST
API (Galileo 0.x's app commands). Not to be confused with ``galileo app``, which serves
Galileo's built-in services (echo, classify, the workloads)."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from galileo.tables import Table

if TYPE_CHECKING:
    from galileo.worker.apps import AppRepositoryClient

console = Console()
apps_app = typer.Typer(
    help="Client apps (request generators as zips) in the repository of `galileo api`; "
         "not `galileo app`, which serves the built-in services.",
    no_args_is_help=True)
UrlOpt = Annotated[str | None, typer.Option(
    "--url", help="the API serving /api/apps (default: galileo_apps_repository, else "
                  "http://localhost:<galileo_api_port>)")]


def _client(url: str | None) -> AppRepositoryClient:
    from galileo.settings import load_settings
    from galileo.worker.apps import AppRepositoryClient

    client = AppRepositoryClient.from_settings(load_settings())
    if url:
        client.url = url.rstrip("/")
    return client


def zip_folder(folder: Path) -> bytes:
    """A folder holding manifest.yml and generator.py, zipped in memory (members at the top)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(folder).as_posix())
    return out.getvalue()


@apps_app.command("ls")
def ls_command(url: UrlOpt = None,
               as_json: Annotated[bool, typer.Option("--json", help="One JSON array.")] = False
               ) -> None:
    """List the client apps."""
    apps = _client(url).list()
    if as_json:
        typer.echo(json.dumps(apps, indent=1))
        return
    table = Table(title="client apps")
    from galileo.control.render import add_id_column

    add_id_column(table, "name", [a["name"] for a in apps])
    for col in ("size", "sha256", "uploaded"):
        table.add_column(col)
    for a in apps:
        when = dt.datetime.fromtimestamp(a["uploaded"]).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(a["name"], str(a["size"]), a["sha256"][:16], when)
    console.print(table)


@apps_app.command("deploy")
def deploy_command(
    path: Annotated[Path, typer.Option("--path", "-p", help="the app: a .zip or a folder "
                                       "with manifest.yml and generator.py", exists=True)],
    url: UrlOpt = None,
) -> None:
    """Upload a client app (replaces one of the same name)."""
    from galileo.errors import ValidationError

    try:
        data = zip_folder(path) if path.is_dir() else path.read_bytes()
    except OSError as e:
        raise ValidationError(f"cannot read {str(path)!r}: {e.strerror}") from None
    app = _client(url).upload(data)
    console.print(f"deployed client app {app['name']} ({app['size']} bytes, sha256 "
                  f"{app['sha256']})", highlight=False)


@apps_app.command("show")
def show_command(name: str, url: UrlOpt = None) -> None:
    """One client app's manifest and hash."""
    typer.echo(json.dumps(_client(url).info(name), indent=1))


@apps_app.command("rm")
def rm_command(name: str, url: UrlOpt = None) -> None:
    """Delete a client app from the repository."""
    _client(url).delete(name)
    console.print(f"client app {name} deleted", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(apps_app, name="apps")
