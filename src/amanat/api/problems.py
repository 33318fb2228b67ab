"""RFC 9457 problem details: every error is application/problem+json naming the rule and values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from amanat.errors import (
    AmanatError,
    ChainUnavailable,
    Conflict,
    DeploymentMismatch,
    InvalidInput,
    NotFound,
    OwnKeyRequired,
    RuleViolation,
)
from amanat.services.accounts import Throttled, Unauthenticated
from amanat.services.approvals import Forbidden

PROBLEM = "application/problem+json"
RESERVED = frozenset({"type", "title", "status", "detail", "instance", "rule", "headers"})


def status_of(error: AmanatError) -> int:
    if isinstance(error, Unauthenticated):
        return 401
    if isinstance(error, (Forbidden, OwnKeyRequired)):
        return 403
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, Throttled):
        return 429
    if isinstance(error, InvalidInput):
        return 400
    if isinstance(error, Conflict):
        return 409
    if isinstance(error, RuleViolation):
        return 422
    if isinstance(error, (ChainUnavailable, DeploymentMismatch)):
        return 503
    return 400


def problem(
    status: int,
    rule: str,
    detail: str,
    instance: str,
    *,
    headers: Mapping[str, str] | None = None,
    **values: Any,
) -> JSONResponse:
    body = {
        "type": f"https://amanat.example/problems/{rule}",
        "title": rule.replace("-", " "),
        "status": status,
        "detail": detail,
        "instance": instance,
        "rule": rule,
        **values,
    }
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(AmanatError)
    async def amanat_error(request: Request, error: AmanatError) -> JSONResponse:
        # A value named like a problem member (e.g. a request's `status`) is renamed.
        values: dict[str, Any] = {
            (f"{k}_value" if k in RESERVED else k): v
            for k, v in error.values.items()
            if isinstance(v, (str, int, bool, type(None)))
        }
        retry = error.values.get("retry_after") if isinstance(error, Throttled) else None
        return problem(
            status_of(error),
            error.rule,
            error.message,
            request.url.path,
            headers={"Retry-After": str(retry)} if retry else None,
            **values,
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(part) for part in first.get("loc", []))
        return problem(
            422,
            "invalid-input",
            f"{where}: {first.get('msg')}",
            request.url.path,
            errors=[
                {"loc": ".".join(map(str, e.get("loc", []))), "msg": e.get("msg")}
                for e in error.errors()
            ],
        )

    @app.exception_handler(Exception)
    async def internal(request: Request, error: Exception) -> JSONResponse:
        # A bug: still answered as problem+json (the server logs the traceback).
        return problem(500, "internal-error", "internal error", request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        rule = {
            400: "malformed-body",  # a body that cannot be read (not UTF-8, a broken form)
            401: "unauthenticated",
            403: "forbidden",
            404: "not-found",
            405: "method-not-allowed",
        }.get(error.status_code, "http-error")
        # A 405 keeps the Allow header the router computed.
        return problem(
            error.status_code, rule, str(error.detail), request.url.path, headers=error.headers
        )
