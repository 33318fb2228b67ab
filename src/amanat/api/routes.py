"""API routes: authentication here; the resource routers are in the `routes_*` modules beside this
one, and `include` mounts them all and completes the OpenAPI (problem+json errors, bearer auth)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from amanat.api.deps import PlatformDep, PrincipalDep
from amanat.api.routes_common import Problem, document_shared_statuses, problems, source_of
from amanat.services import accounts

auth = APIRouter(prefix="/auth", tags=["auth"], responses=problems(401, 422, 429, 503))


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    password: str = Field(min_length=1, max_length=256)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime


@auth.post(
    "/token",
    response_model=TokenOut,
    summary="Sign in and get a bearer token (audited; throttled after repeated failures)",
)
def sign_in(credentials: Credentials, request: Request, platform: PlatformDep) -> TokenOut:
    token, expires = accounts.sign_in(
        platform.store,
        credentials.username,
        credentials.password,
        source_of(request),
        request.url.path,
    )
    return TokenOut(access_token=token, expires_at=expires)


class RevokeIn(BaseModel):
    token: str = Field(
        min_length=1, max_length=256, description="The bearer token to end (usually your own)"
    )


@auth.post(
    "/revoke",
    status_code=204,
    summary="Sign out: end one of your own bearer tokens (audited; 204 whether or not it was live)",
)
def revoke(body: RevokeIn, request: Request, platform: PlatformDep, who: PrincipalDep) -> None:
    accounts.revoke(platform.store, who, body.token, source_of(request), request.url.path)


def include(app: FastAPI) -> None:
    from amanat.api import (
        routes_approvals,
        routes_assets,
        routes_institutions,
        routes_markets,
        routes_records,
        routes_tokens,
        routes_transactions,
        routes_transparency,
    )

    for router in (
        auth,
        routes_records.router,
        routes_assets.router,
        routes_institutions.router,
        routes_tokens.router,
        routes_tokens.transfers,
        routes_transactions.router,
        routes_approvals.router,
        routes_markets.router,
        routes_transparency.router,
        routes_transparency.reconciliations,
    ):
        document_shared_statuses(router.routes)
        app.include_router(router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {})
            components.setdefault("schemas", {})["Problem"] = Problem.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
