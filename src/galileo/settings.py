"""One ``Settings`` object, built at the edge (CLI, app factory) from ``galileo_*`` environment
variables and an optional ``.env`` file, then passed down. Nothing deeper reads the environment."""

from __future__ import annotations

import json
import os
import socket
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, field_validator

from galileo.errors import ConfigError

LABEL_PREFIX = "galileo_label_"
# Seed-style label variables (``galileo_zone=eu``) accepted as labels. Only these: a label is
# published in Redis for everyone to read, so nothing outside this list (e.g. a password) can leak.
SEED_LABEL_ALLOW_LIST = ("zone", "region", "cluster", "rack", "role", "site", "arch")

# ``mixed`` (as in Galileo 0.x): experiments, events and metadata in SQL (``expdb_url``, else the
# MySQL/MariaDB settings); traces and telemetry in InfluxDB (the ``expdb_influxdb_*`` settings)
ExpdbDriver = Literal["sqlite", "mysql", "postgresql", "mixed"]


ENV_PREFIX = "galileo_"
ENV_FILE = ".env"
# Galileo 0.x's names of settings that Galileo calls differently: still accepted (the current
# name wins when both are set), with a one-line note on stderr from :func:`load_settings`
LEGACY_NAMES = {"logging_level": "log_level"}


class Settings(BaseModel):
    """Galileo configuration. Every field maps to ``galileo_<field>`` (case-insensitive); build
    it with :meth:`from_env`. (Read by hand rather than with pydantic-settings: that alone
    costs a lean worker 7 MB of memory and a tenth of a second at every start.)"""

    model_config = ConfigDict(extra="ignore", validate_default=True)

    # -- Redis (the bus). With neither url nor host set, an embedded Redis is started.
    redis_url: str | None = None
    redis_host: str | None = None
    redis_port: int = 6379
    redis_username: str | None = None  # Redis 6 ACL user (default user when unset)
    redis_password: SecretStr | None = None
    redis_db: int = 0
    redis_tls: bool = False  # with redis_host: connect with TLS (rediss://)
    redis_tls_ca: Path | None = None  # CA bundle that signed the server certificate
    redis_tls_cert: Path | None = None  # client certificate (when the server asks for one)
    redis_tls_key: Path | None = None  # its private key
    redis_tls_check_hostname: bool = True
    redis_connect_timeout_s: float = Field(default=2.0, gt=0)
    redis_retries: int = Field(default=3, ge=0)  # per command, on connection errors/timeouts
    namespace: str = Field(default="galileo", pattern=r"^[A-Za-z0-9_.-]{1,32}$")

    # -- local state (embedded Redis socket, SQLite file, reports): one per user, wherever the
    # command runs (XDG: $XDG_DATA_HOME/galileo, else ~/.local/share/galileo)
    data_dir: Path = Field(default_factory=lambda: default_data_dir())

    # -- experiment database
    expdb_driver: ExpdbDriver = "sqlite"
    expdb_url: str | None = None
    expdb_sqlite_path: Path | None = None
    expdb_mysql_host: str = "localhost"
    expdb_mysql_port: int = 3306
    expdb_mysql_db: str = "galileo"
    expdb_mysql_user: str = "root"
    expdb_mysql_password: SecretStr | None = None
    expdb_postgresql_host: str = "localhost"
    expdb_postgresql_port: int = 5432
    expdb_postgresql_db: str = "galileo"
    expdb_postgresql_user: str = "postgres"
    expdb_postgresql_password: SecretStr | None = None
    # InfluxDB for runtime data (driver ``mixed``): with a token, the v2 API (org, bucket);
    # without, the 1.x HTTP API (database, optional user/password). Timeout in milliseconds.
    expdb_influxdb_url: str = "http://localhost:8086"
    expdb_influxdb_token: SecretStr | None = None
    expdb_influxdb_org: str = ""
    expdb_influxdb_org_id: str = ""
    expdb_influxdb_bucket: str = "galileo"
    expdb_influxdb_db: str = "galileo"
    expdb_influxdb_user: str = ""
    expdb_influxdb_password: SecretStr | None = None
    expdb_influxdb_timeout: int = Field(default=10_000, gt=0)

    # -- etcd mirror of the routing table for Galileo 0.x's load balancer (off when unset):
    # the recorder keeps ``<prefix>/<zone>/<service>`` in step, as ``galileo rtbl mirror-etcd``
    etcd_mirror_endpoint: str | None = None
    etcd_mirror_zone: str = "main"
    etcd_mirror_prefix: str = "golb/function"

    # -- balancer (``galileo lb serve``): its hot path compiled with mypyc (``galileo lb build``,
    # kept under ``<data_dir>/lb-native``) is used when built for the installed source (``auto``),
    # never (``off``), or the balancer refuses to start without it (``require``)
    lb_native: Literal["auto", "off", "require"] = "auto"

    # -- worker
    worker_name: str = Field(default_factory=socket.gethostname)
    # request generators this worker runs (galileo.worker.generators): ``builtin``, module
    # prefixes, ``entrypoint:NAME``/``entrypoint:*``; comma-separated. Nothing else is loaded.
    worker_generators: str = "builtin"
    labels: dict[str, str] = Field(default_factory=dict)
    # trace backlog: the traces stream in Redis holds at most this many entries (each up to 500
    # traces, ~80 kB); past it workers keep traces locally, in memory then in a spill file
    # (unset dir: ``<data_dir>/spill``; 0 MB: no spill file), and deliver them as it drains
    trace_backlog_max_entries: int = Field(default=2_000, ge=1)
    worker_trace_memory_mb: float = Field(default=64.0, gt=0)
    worker_spill_dir: Path | None = None
    worker_spill_max_mb: float = Field(default=1024.0, ge=0)
    # client apps (galileo.worker.apps): the API serving /api/apps (``galileo apps``, and where
    # a worker allowed ``apps`` in galileo_worker_generators downloads them) and the worker's
    # cache directory (unset: ``<data_dir>/apps``)
    apps_repository: str | None = None  # unset: http://localhost:<api_port>
    apps_dir: Path | None = None

    # -- experiment runners (Celery). No broker_url: the bus Redis (embedded: its unix socket).
    broker_url: str | None = None
    result_backend: str | None = None  # not needed: status and results live in the expdb
    runner_heartbeat_interval_s: float = Field(default=1.0, gt=0)
    runner_heartbeat_ttl_s: float = Field(default=5.0, gt=0)

    # -- scheduling lab: directory holding the Metis data tables (relative paths: to the cwd;
    # unset: the Metis data shipped inside the package, galileo/scheduling/metis_data)
    sched_data_dir: Path | None = None

    # -- REST API (``galileo api``) and gRPC service (``galileo grpc``)
    api_port: int = 5001
    api_token: SecretStr | None = None  # when set, every API call needs ``Bearer <token>``
    # without a token the API binds loopback only; True lets it listen anywhere, unprotected
    api_allow_open: bool = False
    # deleted experiments stay restorable this long, then any daemon opening the expdb purges them
    trash_retention_s: float = Field(default=7 * 86_400, ge=0)
    api_cors_origins: str = ""  # comma-separated allowed origins (``*`` for any); none by default
    # modules whose Placement classes the services reconciler may load (comma-separated)
    services_policy_modules: str = ""
    # modules whose autoscaling Policy classes `galileo autoscale` and scenarios may load
    autoscale_policy_modules: str = ""
    grpc_port: int = 50051

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    _legacy_notes: list[str] = PrivateAttr(default_factory=list)

    @property
    def legacy_notes(self) -> list[str]:
        """One line per Galileo 0.x variable name ``from_env`` met (see ``LEGACY_NAMES``)."""
        return list(self._legacy_notes)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, v: object) -> object:
        return v.upper() if isinstance(v, str) else v

    # -------------------------------------------------------------- constructors
    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``environ``, or from ``os.environ`` over the ``.env`` file of the
        working directory (the environment wins). Dict fields take JSON.

        Raises ``ConfigError`` with one sentence naming the bad variable."""
        env = dict(environ) if environ is not None else {**_env_file(Path(ENV_FILE)),
                                                         **os.environ}
        values: dict[str, object] = {}
        legacy: list[str] = []
        for key, value in env.items():
            name = key.lower()[len(ENV_PREFIX):]
            if key.lower().startswith(ENV_PREFIX) and name in LEGACY_NAMES:
                legacy.append(key)
                current = ENV_PREFIX + LEGACY_NAMES[name]
                if not any(k.lower() == current for k in env):
                    values[LEGACY_NAMES[name]] = value
                continue
            if not key.lower().startswith(ENV_PREFIX) or name not in cls.model_fields:
                continue
            if typing.get_origin(cls.model_fields[name].annotation) is dict:
                try:
                    values[name] = json.loads(value)
                except ValueError:
                    raise ConfigError(f"invalid configuration: {key} is not a JSON object: "
                                      f"{value[:80]!r}") from None
            else:
                values[name] = value
        try:
            settings = cls.model_validate(values)
        except Exception as e:  # pydantic.ValidationError
            raise ConfigError(_describe_settings_error(e)) from None
        labels = labels_from_env(env)
        if labels:
            settings.labels = {**labels, **settings.labels}
        settings._legacy_notes = [_legacy_note(key, env) for key in legacy]
        return settings

    # -------------------------------------------------------------- derived
    @property
    def embedded_redis(self) -> bool:
        """True when no Redis is configured and Galileo runs its own."""
        return not self.redis_url and not self.redis_host

    @property
    def embedded_redis_socket(self) -> Path:
        return self.data_dir.resolve() / "redis.sock"

    def redis_connection_url(self) -> str:
        """The URL to reach Redis (for the embedded one: its unix socket)."""
        if self.redis_url:
            return self.redis_url
        if self.redis_host:
            auth = ""
            if self.redis_password is not None:
                user = quote(self.redis_username or "", safe="")
                auth = user + ":" + quote(self.redis_password.get_secret_value(), safe="") + "@"
            scheme = "rediss" if self.redis_tls else "redis"
            return f"{scheme}://{auth}{self.redis_host}:{self.redis_port}/{self.redis_db}"
        return f"unix://{self.embedded_redis_socket}?db={self.redis_db}"

    def broker_connection_url(self) -> str:
        """Celery broker URL: ``broker_url``, else the bus Redis (``redis+socket://`` for a unix
        socket, which is what kombu accepts)."""
        if self.broker_url:
            return self.broker_url
        url = self.redis_connection_url()
        if url.startswith("unix://"):
            path, _, query = url[len("unix://"):].partition("?")
            db = dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("db", "0")
            return f"redis+socket://{path}?virtual_host={db}"
        if url.startswith("rediss://") and "ssl_cert_reqs" not in url:
            # kombu takes the bus's TLS files from the URL query
            params = {"ssl_cert_reqs": "required", "ssl_ca_certs": self.redis_tls_ca,
                      "ssl_certfile": self.redis_tls_cert, "ssl_keyfile": self.redis_tls_key}
            query = "&".join(f"{k}={quote(str(v), safe='/')}" for k, v in params.items()
                             if v is not None)
            return url + ("&" if "?" in url else "?") + query
        return url

    def expdb_connection_url(self) -> str:
        """SQLAlchemy URL of the experiment database."""
        if self.expdb_url:
            return self.expdb_url
        if self.expdb_driver == "sqlite":
            path = self.expdb_sqlite_path or (self.data_dir / "galileo.sqlite")
            return f"sqlite:///{Path(path).resolve()}"
        if self.expdb_driver in ("mysql", "mixed"):
            auth = _auth(self.expdb_mysql_user, self.expdb_mysql_password)
            return (f"mysql+pymysql://{auth}@{self.expdb_mysql_host}:{self.expdb_mysql_port}/"
                    f"{self.expdb_mysql_db}")
        auth = _auth(self.expdb_postgresql_user, self.expdb_postgresql_password)
        return (f"postgresql+psycopg://{auth}@{self.expdb_postgresql_host}:"
                f"{self.expdb_postgresql_port}/{self.expdb_postgresql_db}")

    def redacted_expdb_url(self) -> str:
        """The expdb URL with any password replaced by ``***`` (for logs and summaries)."""
        return redact_password(self.expdb_connection_url())


def redact_password(url: str) -> str:
    """``url`` (``scheme://user:password@host/...``) with the password replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}{slash}{path}"


def default_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The per-user data directory (XDG Base Directory): ``$XDG_DATA_HOME/galileo`` when that
    is an absolute path, else ``~/.local/share/galileo``. The same from every working
    directory, so every command of a user meets the same embedded Redis and SQLite expdb."""
    env = os.environ if environ is None else environ
    xdg = env.get("XDG_DATA_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "galileo"
    home = env.get("HOME") or str(Path.home())
    return Path(home) / ".local" / "share" / "galileo"


def _legacy_note(key: str, env: Mapping[str, str]) -> str:
    current = ENV_PREFIX + LEGACY_NAMES[key.lower()[len(ENV_PREFIX):]]
    if any(k.lower() == current for k in env):
        return f"note: {key} (Galileo 0.x's name) is ignored: {current} is set"
    return f"note: {key} is Galileo 0.x's name; Galileo reads it as {current}"


def _auth(user: str, password: SecretStr | None) -> str:
    if password is None:
        return quote(user, safe="")
    return quote(user, safe="") + ":" + quote(password.get_secret_value(), safe="")


def _env_file(path: Path) -> dict[str, str]:
    """The ``KEY=value`` lines of a dotenv file (none when it does not exist)."""
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def labels_from_env(environ: Mapping[str, str]) -> dict[str, str]:
    """Worker labels: every ``galileo_label_<name>`` plus the allow-listed seed variables."""
    labels: dict[str, str] = {}
    for key, value in environ.items():
        low = key.lower()
        if low.startswith(LABEL_PREFIX) and len(low) > len(LABEL_PREFIX):
            labels[low[len(LABEL_PREFIX):]] = value
        elif low.startswith("galileo_") and low[len("galileo_"):] in SEED_LABEL_ALLOW_LIST:
            labels.setdefault(low[len("galileo_"):], value)
    return labels


def _describe_settings_error(e: Exception) -> str:
    errors = getattr(e, "errors", None)
    if callable(errors):
        parts = []
        for err in errors():
            loc = ".".join(str(p) for p in err.get("loc", ()))
            parts.append(f"galileo_{loc}: {err.get('msg', 'invalid value')}")
        return "invalid configuration: " + "; ".join(parts)
    return f"invalid configuration: {e}"


def load_settings() -> Settings:
    """Build the one Settings object from the environment and configure logging: what every
    command (the edge) does first, and a child process re-started by one."""
    import logging
    import sys

    settings = Settings.from_env()
    for note in settings.legacy_notes:
        print(note, file=sys.stderr)
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return settings
