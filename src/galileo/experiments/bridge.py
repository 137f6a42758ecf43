"""The Galileo 0.x bridge: ``BRPOP`` Galileo 0.x's ``galileo:experiments:instructions`` list (JSON
``{"instructions": "...", "exp_id"?, "creator"?, "name"?}``) and submit each entry. A malformed
entry becomes a FAILED experiment carrying the parse error: nothing is lost, nothing crashes."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from galileo.errors import GalileoError, ValidationError
from galileo.protocol import Keys, check_name
from galileo.storage import Experiment, ExperimentStatus

from . import store
from .service import ExperimentService

log = logging.getLogger(__name__)
BRPOP_TIMEOUT_S = 1


class Bridge:
    """Moves entries of the Galileo 0.x list into the experiment queue."""

    def __init__(self, service: ExperimentService, queue: str = Keys.SEED_INSTRUCTIONS) -> None:
        self.service = service
        self.queue = queue

    def run_once(self, timeout_s: float = BRPOP_TIMEOUT_S) -> Experiment | None:
        """Take one entry (waiting up to ``timeout_s``) and submit it; None when none came."""
        item = self.service.redis.brpop([self.queue], timeout=timeout_s)
        if item is None:
            return None
        return self.accept(item[1])

    def accept(self, raw: bytes | str) -> Experiment:
        """Submit one raw entry; a malformed one is stored as a FAILED experiment."""
        fields: dict[str, Any] = {}
        try:
            fields = _decode(raw)
            exp = self.service.submit(script=fields["instructions"],
                                      exp_id=fields.get("exp_id"),
                                      name=str(fields.get("name") or ""),
                                      creator=str(fields.get("creator") or ""))
            log.info("Galileo 0.x entry queued as experiment %s", exp.id)
            return exp
        except GalileoError as e:
            return self._failed(raw, fields, str(e))

    def _failed(self, raw: bytes | str, fields: dict[str, Any], reason: str) -> Experiment:
        db = self.service.db
        exp_id = fields.get("exp_id")
        try:
            exp_id = check_name("experiment id", exp_id) if isinstance(exp_id, str) else None
            if exp_id is not None and db.get_experiment(exp_id) is not None:
                exp_id = None  # the id is taken: keep the entry under a fresh id
        except ValidationError:
            exp_id = None
        exp = db.create_experiment(str(fields.get("name") or "")[:255],
                                   str(fields.get("creator") or "")[:128], exp_id=exp_id)
        text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        store.put_metadata(db, exp.id, {"kind": "script", "source": text})
        log.warning("malformed Galileo 0.x entry stored as FAILED experiment %s: %s", exp.id,
                    reason)
        return db.finish(exp.id, ExperimentStatus.FAILED, f"malformed Galileo 0.x entry: {reason}")

    def run(self, stop: threading.Event) -> None:
        """Bridge until ``stop`` is set; Redis trouble is logged and retried."""
        log.info("bridge: %s → experiment queue %s", self.queue,
                 Keys(self.service.settings.namespace).job_queue)
        while not stop.is_set():
            try:
                self.run_once()
            except GalileoError as e:
                log.warning("bridge: %s; retrying", e)
                stop.wait(1.0)


def _decode(raw: bytes | str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValidationError(f"the entry is not JSON ({e})") from None
    if not isinstance(data, dict):
        raise ValidationError("the entry must be a JSON object with 'instructions'")
    if not isinstance(data.get("instructions"), str):
        raise ValidationError("the entry has no 'instructions' text")
    for key in ("exp_id", "name", "creator"):
        if key in data and data[key] is not None and not isinstance(data[key], str):
            raise ValidationError(f"'{key}' must be a string")
    return data
