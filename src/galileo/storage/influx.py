"""InfluxDB as the store of runtime data (traces and telemetry), as Galileo 0.x's ``mixed`` expdb.

With ``galileo_expdb_driver=mixed`` the SQL database keeps experiments, events and metadata, and
the recorder writes traces and telemetry here instead, inside the same recorder transaction: an
InfluxDB that is down makes the write fail, so the stream entries stay unacknowledged and are
written again when it is back (nothing lost); a point written twice is stored once, because a
point is identified by its measurement, tags and timestamp.

Line protocol (timestamps in ns):

``galileo_trace``
    tags ``exp_id`` (``none`` for untagged traces), ``service``, ``worker``, ``host``,
    ``group_id``, ``client_id``, ``method`` (:data:`TRACE_TAGS`); as fields every other field of
    ``protocol.Trace`` in its order (``str`` as strings, ``int`` as integers:
    :data:`TRACE_FIELDS`, derived from the record), then ``latency_ms`` (float, done − intended:
    from the intended send time) and ``failed`` (bool); timestamp ``sent_ns`` (one client never
    sends twice in the same nanosecond).
``galileo_telemetry``
    tags ``exp_id``, ``node``, ``metric``, ``subsystem`` (omitted when empty); fields ``value``
    (float), ``window_ns`` (integer); timestamp ``ts_ns``.

Transports: InfluxDB 1.x's HTTP ``/write?db=…&precision=ns`` (urllib, no dependency; also what
InfluxDB 2's v1-compatibility endpoint accepts), or, when ``galileo_expdb_influxdb_token`` is set,
the v2 API through the official ``influxdb-client`` library (org, bucket).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol, cast

from galileo.errors import StorageError
from galileo.protocol import TelemetrySample, Trace, request_failed
from galileo.storage.records import record_fields

if TYPE_CHECKING:
    from galileo.settings import Settings

log = logging.getLogger(__name__)

TRACE_MEASUREMENT: Final = "galileo_trace"
TELEMETRY_MEASUREMENT: Final = "galileo_telemetry"
NO_EXPERIMENT_TAG: Final = "none"
LINES_PER_REQUEST: Final = 5_000

# the fields of a trace that are tags (indexed, low cardinality), in line order
TRACE_TAGS: Final = ("exp_id", "service", "worker", "host", "group_id", "client_id", "method")


def _line_fields(record: type, tags: tuple[str, ...]) -> dict[str, type]:
    """Every field of ``record`` that is not a tag, with its line-protocol type (str or int)."""
    out: dict[str, type] = {}
    for f in record_fields(record):
        if f.name in tags:
            continue
        if f.type not in (str, int):
            raise TypeError(f"{record.__name__}.{f.name}: no line-protocol type for {f.type}")
        out[f.name] = f.type
    return out


TRACE_FIELDS: Final = _line_fields(Trace, TRACE_TAGS)
_TRACE_RECORD: Final = record_fields(Trace)

_TAG_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n"})
_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n"})


class InfluxError(StorageError):
    """InfluxDB unreachable or refusing a write or query (one sentence naming the endpoint)."""


# ---------------------------------------------------------------------- line protocol
def _tag(value: str) -> str:
    return value.translate(_TAG_ESCAPES)


def _string_field(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _float_field(value: float) -> str:
    if not math.isfinite(value):  # line protocol has no NaN/inf: such a sample is not written
        raise ValueError(value)
    return repr(float(value))


def _line(measurement: str, tags: Sequence[tuple[str, str]], fields: Sequence[tuple[str, str]],
          ts_ns: int) -> str:
    tag_part = "".join(f",{k}={_tag(v)}" for k, v in tags if v != "")
    field_part = ",".join(f"{k}={v}" for k, v in fields)
    return f"{measurement.translate(_MEASUREMENT_ESCAPES)}{tag_part} {field_part} {ts_ns}"


def trace_line(trace: Trace) -> str:
    """One trace as a line of InfluxDB line protocol."""
    latency_ms = (trace.done_ns - trace.intended_ns) / 1e6 if trace.done_ns else 0.0
    failed = bool(request_failed(trace.status, trace.error))
    tags = [(k, getattr(trace, k)) for k in TRACE_TAGS]
    tags[0] = ("exp_id", trace.exp_id or NO_EXPERIMENT_TAG)
    fields = [(k, _string_field(getattr(trace, k)) if kind is str else f"{getattr(trace, k)}i")
              for k, kind in TRACE_FIELDS.items()]
    fields += [("latency_ms", _float_field(latency_ms)),
               ("failed", "true" if failed else "false")]
    return _line(TRACE_MEASUREMENT, tags, fields, trace.sent_ns or trace.intended_ns)


def telemetry_line(exp_id: str | None, sample: TelemetrySample) -> str:
    """One telemetry sample as a line of InfluxDB line protocol."""
    return _line(
        TELEMETRY_MEASUREMENT,
        [("exp_id", exp_id or NO_EXPERIMENT_TAG), ("node", sample.node),
         ("metric", sample.metric), ("subsystem", sample.subsystem)],
        [("value", _float_field(sample.value)), ("window_ns", f"{sample.window_ns}i")],
        sample.ts_ns)


def telemetry_lines(pairs: Iterable[tuple[str | None, TelemetrySample]]) -> list[str]:
    lines = []
    for exp_id, sample in pairs:
        try:
            lines.append(telemetry_line(exp_id, sample))
        except ValueError:
            log.debug("telemetry sample %s/%s with value %r not written (not finite)",
                      sample.node, sample.metric, sample.value)
    return lines


# ---------------------------------------------------------------------- transports
class InfluxWriter(Protocol):
    endpoint: str

    def write(self, lines: Sequence[str]) -> None: ...

    def query_rows(self, measurement: str, exp_id: str | None) -> list[dict[str, Any]]: ...

    def delete(self, measurement: str, exp_id: str) -> None: ...


class InfluxV1Writer:
    """InfluxDB 1.x (and 2.x's v1-compatible) HTTP API: ``/write`` and ``/query``."""

    def __init__(self, url: str, db: str, *, user: str = "", password: str = "",
                 timeout_ms: int = 10_000) -> None:
        self.endpoint = url.rstrip("/")
        self.db, self.user, self.password = db, user, password
        self.timeout_s = timeout_ms / 1000

    def _params(self, **extra: str) -> str:
        params = {"db": self.db, **extra}
        if self.user:
            params.update(u=self.user, p=self.password)
        return urllib.parse.urlencode(params)

    def _request(self, path: str, body: bytes | None, what: str) -> bytes:
        request = urllib.request.Request(self.endpoint + path, body,
                                         method="POST" if body is not None else "GET")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as resp:
                return bytes(resp.read())
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")
            with _suppress_json_errors():
                detail = str(json.loads(detail).get("error", detail))
            raise InfluxError(_describe_http(self.endpoint, e.code, detail.strip(), what,
                                             f"database {self.db!r}")) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise InfluxError(f"InfluxDB at {self.endpoint} unreachable while {what} "
                              f"({reason})") from None

    def write(self, lines: Sequence[str]) -> None:
        for start in range(0, len(lines), LINES_PER_REQUEST):
            body = "\n".join(lines[start:start + LINES_PER_REQUEST]).encode()
            self._request(f"/write?{self._params(precision='ns')}", body, "writing points")

    def delete(self, measurement: str, exp_id: str) -> None:
        q = f"DELETE FROM \"{measurement}\" WHERE exp_id = '{_influxql_string(exp_id)}'"
        answer = json.loads(self._request("/query", self._params(q=q).encode(),
                                          "deleting points"))
        for result in answer.get("results", []):
            if "error" in result:
                raise InfluxError(f"InfluxDB at {self.endpoint} refused a delete: "
                                  f"{result['error']}")

    def query_rows(self, measurement: str, exp_id: str | None) -> list[dict[str, Any]]:
        where = f" WHERE exp_id = '{_influxql_string(exp_id)}'" if exp_id is not None else ""
        q = f'SELECT * FROM "{measurement}"{where} ORDER BY time'
        answer = json.loads(self._request(f"/query?{self._params(q=q, epoch='ns')}", None,
                                          "querying points"))
        rows: list[dict[str, Any]] = []
        for result in answer.get("results", []):
            if "error" in result:
                raise InfluxError(f"InfluxDB at {self.endpoint} refused a query: "
                                  f"{result['error']}")
            for series in result.get("series", []):
                columns = series["columns"]
                rows += [dict(zip(columns, values, strict=True)) for values in series["values"]]
        return rows


class InfluxV2Writer:
    """InfluxDB 2.x through the official ``influxdb-client`` (token, org, bucket)."""

    def __init__(self, url: str, token: str, org: str, bucket: str, *,
                 timeout_ms: int = 10_000) -> None:
        try:
            from influxdb_client.client.influxdb_client import InfluxDBClient
            from influxdb_client.client.write_api import SYNCHRONOUS
            from influxdb_client.domain.write_precision import WritePrecision
        except ModuleNotFoundError:
            raise StorageError("InfluxDB 2 needs the influxdb-client package: "
                               "pip install 'galileo[influx]'") from None
        self.endpoint = url.rstrip("/")
        self.org, self.bucket = org, bucket
        self._client = InfluxDBClient(url=url, token=token, org=org, timeout=timeout_ms)
        self._write = self._client.write_api(write_options=SYNCHRONOUS)
        self._precision = cast(WritePrecision, WritePrecision.NS)  # a str constant

    def _fail(self, e: Exception, what: str) -> InfluxError:
        status = getattr(e, "status", None)
        body = str(getattr(e, "body", "") or e)
        with _suppress_json_errors():
            body = str(json.loads(body).get("message", body))
        if isinstance(status, int):
            return InfluxError(_describe_http(self.endpoint, status, body.strip(), what,
                                              f"bucket {self.bucket!r} of org {self.org!r}"))
        return InfluxError(f"InfluxDB at {self.endpoint} unreachable while {what} ({body})")

    def write(self, lines: Sequence[str]) -> None:
        try:
            for start in range(0, len(lines), LINES_PER_REQUEST):
                self._write.write(bucket=self.bucket, org=self.org,
                                  record=list(lines[start:start + LINES_PER_REQUEST]),
                                  write_precision=self._precision)
        except Exception as e:  # ApiException, urllib3 errors: mapped to one sentence
            raise self._fail(e, "writing points") from None

    def delete(self, measurement: str, exp_id: str) -> None:
        import datetime as dt

        predicate = f'_measurement="{measurement}" AND exp_id="{_flux_string(exp_id)}"'
        try:
            self._client.delete_api().delete(
                dt.datetime(1970, 1, 1, tzinfo=dt.UTC), dt.datetime(2262, 1, 1, tzinfo=dt.UTC),
                predicate, bucket=self.bucket, org=self.org)
        except Exception as e:
            raise self._fail(e, "deleting points") from None

    def query_rows(self, measurement: str, exp_id: str | None) -> list[dict[str, Any]]:
        exp_filter = (f' and r.exp_id == "{_flux_string(exp_id)}"' if exp_id is not None else "")
        flux = (f'from(bucket: "{_flux_string(self.bucket)}") |> range(start: 0) '
                f'|> filter(fn: (r) => r._measurement == "{measurement}"{exp_filter}) '
                f'|> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value") '
                f'|> sort(columns: ["_time"])')
        try:
            tables = self._client.query_api().query(flux, org=self.org)
        except Exception as e:
            raise self._fail(e, "querying points") from None
        rows = []
        for table in tables:
            for record in table.records:
                values = dict(record.values)
                values["time"] = int(record.values["_time"].timestamp() * 1e9)
                rows.append(values)
        return rows


# ---------------------------------------------------------------------- the runtime store
class InfluxRuntimeStore:
    """Traces and telemetry in InfluxDB (the ``mixed`` expdb's runtime half)."""

    def __init__(self, writer: InfluxWriter) -> None:
        self.writer = writer

    @property
    def endpoint(self) -> str:
        return self.writer.endpoint

    def insert_traces(self, traces: Sequence[Trace]) -> int:
        if traces:
            self.writer.write([trace_line(t) for t in traces])
        return len(traces)

    def insert_telemetry(self, pairs: Sequence[tuple[str | None, TelemetrySample]]) -> int:
        lines = telemetry_lines(pairs)
        if lines:
            self.writer.write(lines)
        return len(lines)

    def delete_experiment(self, exp_id: str) -> None:
        """Delete every point of ``exp_id`` (the purge of a trashed experiment)."""
        for measurement in (TRACE_MEASUREMENT, TELEMETRY_MEASUREMENT):
            self.writer.delete(measurement, exp_id)

    def traces(self, exp_id: str | None = None) -> list[dict[str, Any]]:
        """Trace rows (the SQL rows' columns) ordered by ``sent_ns``."""
        tag = None if exp_id is None else exp_id
        rows = self.writer.query_rows(TRACE_MEASUREMENT, tag)
        out: list[dict[str, Any]] = []
        for row in rows:
            values: dict[str, Any] = {}
            for f in _TRACE_RECORD:
                value = row.get(f.name)
                if f.name == "exp_id":
                    values[f.name] = None if value in (None, NO_EXPERIMENT_TAG) else value
                elif f.name == "request_id":
                    values[f.name] = value
                else:
                    values[f.name] = int(value or 0) if f.type is int else (value or "")
            out.append(values)
        out.sort(key=lambda r: r["sent_ns"])
        return out

    def telemetry(self, exp_id: str | None = None) -> list[dict[str, Any]]:
        rows = self.writer.query_rows(TELEMETRY_MEASUREMENT, exp_id)
        return [{"exp_id": None if row.get("exp_id") in (None, NO_EXPERIMENT_TAG)
                 else row.get("exp_id"), "node": row.get("node") or "",
                 "metric": row.get("metric") or "", "subsystem": row.get("subsystem") or "",
                 "ts_ns": int(row["time"]), "value": float(row.get("value") or 0.0),
                 "window_ns": int(row.get("window_ns") or 0)} for row in rows]


def influx_store_from_settings(settings: Settings) -> InfluxRuntimeStore:
    """The runtime store the ``galileo_expdb_influxdb_*`` settings describe."""
    timeout = settings.expdb_influxdb_timeout
    writer: InfluxWriter
    if settings.expdb_influxdb_token is not None:
        writer = InfluxV2Writer(settings.expdb_influxdb_url,
                                settings.expdb_influxdb_token.get_secret_value(),
                                settings.expdb_influxdb_org or settings.expdb_influxdb_org_id,
                                settings.expdb_influxdb_bucket, timeout_ms=timeout)
    else:
        password = settings.expdb_influxdb_password
        writer = InfluxV1Writer(settings.expdb_influxdb_url, settings.expdb_influxdb_db,
                                user=settings.expdb_influxdb_user,
                                password=password.get_secret_value() if password else "",
                                timeout_ms=timeout)
    return InfluxRuntimeStore(writer)


# ---------------------------------------------------------------------- helpers
def _describe_http(endpoint: str, status: int, detail: str, what: str, target: str) -> str:
    if status in (401, 403):
        return (f"InfluxDB at {endpoint} refused the credentials while {what} "
                f"(bad token or user?): {detail}")
    if status == 404:
        return f"InfluxDB at {endpoint} has no {target} (create it first): {detail}"
    return f"InfluxDB at {endpoint} answered {status} while {what}: {detail}"


def _influxql_string(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _flux_string(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _suppress_json_errors() -> contextlib.suppress:
    """Around reading an error body as JSON: keep the raw text when it is not."""
    return contextlib.suppress(ValueError, AttributeError)
