"""The application factory: API routers, the operator console, the public portal, problem+json
errors, state."""

from __future__ import annotations

from fastapi import FastAPI

from amanat.api import problems
from amanat.api.fast_reads import FastReads, FastReadsMiddleware
from amanat.api.guard import RequestGuard
from amanat.api.read_cache import BlockCache
from amanat.services.platform import Platform


def create_app(platform: Platform) -> FastAPI:
    app = FastAPI(
        title="Amanat",
        version="0.1.0",
        summary="Tokenized state assets, managed in the open.",
        docs_url=None,  # served by routes_docs with local Swagger UI files
        redoc_url=None,
        description=(
            "Sign in with POST /auth/token and send `Authorization: Bearer <token>`. "
            "Every POST accepts an `Idempotency-Key` header: a replay returns the first result. "
            "Errors are RFC 9457 problem+json naming the rule and the values."
        ),
    )
    app.state.platform = platform
    app.add_middleware(RequestGuard)
    app.state.read_cache = BlockCache()
    app.state.fast_reads = FastReads(platform, app.state.read_cache)
    app.add_middleware(FastReadsMiddleware, reads=app.state.fast_reads)  # outermost
    problems.install(app)
    from amanat.api import routes

    routes.include(app)
    from amanat.api import routes_docs
    from amanat.web import console, portal

    app.include_router(routes_docs.router)
    app.include_router(console.router)
    app.include_router(portal.router)
    app.add_api_route("/", portal.home, include_in_schema=False)
    return app
