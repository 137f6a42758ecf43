"""``/workers``: the live worker pool."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from galileo.errors import ValidationError
from galileo.web.deps import GalileoDep
from galileo.web.errors import error_responses
from galileo.web.schemas import WorkerPublic

router = APIRouter(prefix="/workers", tags=["workers"], responses=error_responses(400, 503))


@router.get("", summary="Live workers, sorted by name")
def list_workers(
    g: GalileoDep,
    label: Annotated[list[str] | None, Query(
        max_length=32, description="only workers carrying this label, as name=value")] = None,
) -> list[WorkerPublic]:
    labels = dict(_split_label(item) for item in label or [])
    return [WorkerPublic.model_validate(w, from_attributes=True) for w in g.workers(labels)]


def _split_label(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name:
        raise ValidationError(f"label filter {item!r} must look like name=value")
    return name, value
