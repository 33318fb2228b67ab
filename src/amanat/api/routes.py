"""API routes: authentication. (Resource routers are added in the modules beside this one.)"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel, Field

from amanat.api.deps import PlatformDep
from amanat.services import accounts

auth = APIRouter(prefix="/auth", tags=["auth"])


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime


@auth.post("/token", response_model=TokenOut, summary="Sign in and get a bearer token")
def sign_in(credentials: Credentials, request: Request, platform: PlatformDep) -> TokenOut:
    source = request.client.host if request.client else "unknown"
    token, expires = accounts.sign_in(
        platform.store, credentials.username, credentials.password, source
    )
    return TokenOut(access_token=token, expires_at=expires)


def include(app: FastAPI) -> None:
    app.include_router(auth)
