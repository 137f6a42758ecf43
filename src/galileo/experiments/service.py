"""``ExperimentService``: the one facade the CLI, the REST API and the gRPC service call.

Submit validates everything first, stores a QUEUED row with its metadata (the scenario or script
and the settings as JSON, no secrets) and enqueues the Celery task; ``cancel`` stops queued
experiments at once and running ones cooperatively; ``status``/``watch`` read the expdb (and mark
an experiment whose runner died FAILED on the spot)."""

from __future__ import annotations

import builtins
import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

from galileo import bus
from galileo.control.experiment import STOP_POLL_S, STOP_WAIT_S
from galileo.errors import BusError, NotFoundError, ValidationError
from galileo.protocol import Keys, check_name
from galileo.settings import Settings
from galileo.storage import ExpDB, Experiment, ExperimentStatus

from . import store
from .jobs import make_job
from .model import CANCEL_TTL_S, ExperimentStatusView

if TYPE_CHECKING:
    from celery import Celery

_URL_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@")
STOPPED_MESSAGE: Final = "stopped on request"


def safe_settings(settings: Settings) -> dict[str, Any]:
    """The settings as JSON without secrets (passwords dropped, URL passwords masked)."""
    out: dict[str, Any] = {}
    for key, value in settings.model_dump(mode="json").items():
        if "password" in key or "token" in key or "secret" in key:
            continue
        if isinstance(value, str):
            value = _URL_PASSWORD.sub(r"\1***@", value)
        out[key] = value
    return out


class ExperimentService:
    """Submit, cancel, inspect and delete experiments (see the module docstring)."""

    def __init__(self, settings: Settings, expdb: ExpDB | None = None) -> None:
        self.settings = settings
        self.keys = Keys(settings.namespace)
        self._own_db = expdb is None
        self.db = expdb if expdb is not None else ExpDB.from_settings(settings)
        self._redis: bus.Bus | None = None
        self._app: Celery | None = None

    # ------------------------------------------------------------------ plumbing
    @property
    def redis(self) -> bus.Bus:
        if self._redis is None:
            self._redis = bus.connect(self.settings)
        return self._redis

    @property
    def celery(self) -> Celery:
        if self._app is None:
            from .tasks import make_app

            self._app = make_app(self.settings)
        return self._app

    def close(self) -> None:
        if self._app is not None:
            self._app.close()
            self._app = None
        if self._redis is not None:
            self._redis.close()
            self._redis = None
        if self._own_db:
            self.db.close()

    def __enter__(self) -> ExperimentService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ submit
    def create(self, *, script: str | None = None, scenario: str | dict[str, Any] | None = None,
               exp_id: str | None = None, name: str = "", creator: str = "") -> Experiment:
        """Validate and store a QUEUED experiment with its metadata, without enqueueing it.
        A service it loads that neither it nor the routing table routes is refused
        (``NoRouteError``)."""
        job = make_job(script=script, scenario=scenario)
        if exp_id is not None:
            check_name("experiment id", exp_id)
        job.check_routes(lambda service: bool(self.redis.exists(self.keys.rtbl(service))))
        exp = self.db.create_experiment(name or job.default_name, creator, exp_id=exp_id,
                                        status=ExperimentStatus.QUEUED)
        store.put_metadata(self.db, exp.id, {**job.metadata(),
                                             "settings": safe_settings(self.settings)})
        return exp

    def submit(self, *, script: str | None = None, scenario: str | dict[str, Any] | None = None,
               exp_id: str | None = None, name: str = "", creator: str = "") -> Experiment:
        """Validate, store (QUEUED) and enqueue an experiment for the runners."""
        exp = self.create(script=script, scenario=scenario, exp_id=exp_id, name=name,
                          creator=creator)
        from .tasks import enqueue

        try:
            if self.settings.embedded_redis:  # the broker may be the embedded Redis: start it
                bus.ensure_embedded_redis(self.settings.data_dir)
            enqueue(self.celery, self.settings, exp.id)
        except Exception as e:  # kombu/redis/amqp errors: the row must not wait forever
            message = f"cannot enqueue the experiment on the broker: {e}"
            self.db.finish(exp.id, ExperimentStatus.FAILED, message)
            raise BusError(message) from None
        return exp

    # ------------------------------------------------------------------ control
    def cancel(self, exp_id: str, wait_s: float = STOP_WAIT_S) -> Experiment:
        """Stop ``exp_id`` and return it as it is after stopping: QUEUED → CANCELLED now;
        a RUNNING job is asked to stop (cooperatively; waited for up to ``wait_s``); a RUNNING
        experiment no runner executes -- started by id alone (``exp start``, Galileo 0.x's
        ``StartExperiment``) -- ends now: FINISHED, its marker cleared."""
        exp = self.get(exp_id)
        if exp.status == ExperimentStatus.QUEUED and store.set_status_if(
                self.db, exp_id, ExperimentStatus.QUEUED, ExperimentStatus.CANCELLED,
                "cancelled before it started", at=time.time()):
            return self.get(exp_id)
        exp = self.get(exp_id)
        if exp.status != ExperimentStatus.RUNNING:
            return exp
        if self._marked_only(exp_id):
            return self._end_marked(exp_id)
        self.redis.set(self.keys.job_cancel(exp_id), "1", ex=CANCEL_TTL_S)
        self._reap(exp_id)
        deadline = time.monotonic() + wait_s
        exp = self.get(exp_id)
        while exp.status == ExperimentStatus.RUNNING and time.monotonic() < deadline:
            time.sleep(STOP_POLL_S)
            exp = self.get(exp_id)
        return exp

    def _marked_only(self, exp_id: str) -> bool:
        """True for a running experiment that is no job: no runner holds it and it has no
        script or scenario (it was started by id alone and tags traces until stopped)."""
        return (not self.redis.hexists(self.keys.jobs_running, exp_id)
                and "kind" not in store.get_metadata(self.db, exp_id))

    def _end_marked(self, exp_id: str) -> Experiment:
        from galileo.control.experiment import ExperimentControl

        now = time.time()
        ExperimentControl(self.redis, self.keys).end(exp_id, {
            "status": ExperimentStatus.FINISHED.value, "message": STOPPED_MESSAGE})
        with self.db.transaction() as tx:  # the recorder applies the same event again
            tx.record_stop(exp_id, ExperimentStatus.FINISHED, at=now, message=STOPPED_MESSAGE)
        return self.get(exp_id)

    def status(self, exp_id: str) -> ExperimentStatusView:
        return ExperimentStatusView.of(self.get(exp_id))

    def get(self, exp_id: str) -> Experiment:
        """The experiment; ``NotFoundError`` when unknown or in the trash."""
        exp = self.db.get_experiment(exp_id)
        if exp is None:
            raise NotFoundError(f"unknown experiment {exp_id!r}")
        if exp.deleted_at is not None:
            raise NotFoundError(f"experiment {exp_id!r} is in the trash; restore it first")
        if exp.status == ExperimentStatus.RUNNING and self._reap(exp_id):
            exp = self.db.get_experiment(exp_id) or exp
        return exp

    def list(self, *, status: str | None = None, creator: str | None = None, limit: int = 50,
             offset: int = 0, trash: bool = False) -> builtins.list[Experiment]:
        """Experiments newest first; with ``trash`` only those in the trash."""
        if status is not None and status.upper() not in ExperimentStatus.__members__:
            raise ValidationError(f"unknown status {status!r}; use one of "
                                  + ", ".join(ExperimentStatus.__members__))
        if limit < 1 or offset < 0:
            raise ValidationError("limit must be >= 1 and offset >= 0")
        return self.db.list_experiments(
            status=ExperimentStatus(status.upper()) if status else None, creator=creator,
            trash=trash, limit=min(limit, 10_000), offset=offset)

    def delete(self, exp_id: str, *, purge: bool = False) -> None:
        """Move the experiment to the trash (a queued one is cancelled first), or with ``purge``
        delete it and every row of it for good (also from the trash). A RUNNING one must be
        stopped first."""
        exp = self.db.get_experiment(exp_id)
        if exp is None or (exp.deleted_at is not None and not purge):
            self.get(exp_id)  # the NotFoundError naming why
        assert exp is not None
        if exp.status == ExperimentStatus.QUEUED and exp.deleted_at is None:
            exp = self.cancel(exp_id)
        if exp.status == ExperimentStatus.RUNNING:
            raise ValidationError(f"experiment {exp_id!r} is running; stop it before deleting")
        if purge:
            self.db.purge_experiment(exp_id)
        else:
            self.db.trash_experiment(exp_id)

    def restore(self, exp_id: str) -> Experiment:
        """Bring an experiment back from the trash with all its data."""
        return self.db.restore_experiment(exp_id)

    def watch(self, exp_id: str, interval_s: float = 0.5,
              timeout_s: float | None = None) -> Iterator[ExperimentStatusView]:
        """Yield the status whenever it changes; ends after a terminal state (or, with
        ``timeout_s``, when that long has passed: the last view is then not terminal)."""
        last: ExperimentStatusView | None = None
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            view = self.status(exp_id)
            if view != last:
                yield view
                last = view
            if view.terminal or (deadline is not None and time.monotonic() >= deadline):
                return
            time.sleep(interval_s)

    # ------------------------------------------------------------------ runner loss
    def _reap(self, exp_id: str) -> bool:
        """Mark ``exp_id`` FAILED when its runner is registered but stopped heartbeating."""
        from galileo.control.galileo import Galileo

        from .lease import reap

        try:
            g = Galileo(self.settings, client=self.redis)
            return bool(reap(g, self.db, only=exp_id))
        except BusError:
            return False
