"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from pimhub import __version__
from pimhub.api.auth import hub_of
from pimhub.api.errors import problem
from pimhub.api.responses import OrjsonResponse

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
def healthz() -> OrjsonResponse:
    return OrjsonResponse({"status": "ok", "version": __version__})


@router.get("/readyz", summary="The database answers")
def readyz(request: Request) -> Response:
    try:
        with hub_of(request).engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return problem(
            503, "not-ready", "Not ready", f"database unreachable: {exc.__class__.__name__}"
        )
    return OrjsonResponse({"status": "ready", "database": hub_of(request).engine.dialect.name})
