"""The API's documentation page, drawn by Swagger UI from files this server serves itself (copied
from the pinned npm package `swagger-ui-dist` by `make build`), so `/docs` works with no internet."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

from amanat.errors import NotFound

SWAGGER_DIR = Path(__file__).resolve().parents[1] / "web" / "static" / "swagger"
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}

router = APIRouter(include_in_schema=False)


class DocsNotBuilt(NotFound):
    rule = "docs-not-built"


@router.get("/docs")
def docs() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Amanat API",
        swagger_js_url="/docs/static/swagger-ui-bundle.js",
        swagger_css_url="/docs/static/swagger-ui.css",
        swagger_favicon_url="/docs/static/favicon-32x32.png",
    )


@router.get("/docs/static/{name}")
def docs_asset(name: str) -> Response:
    if name not in ASSETS:
        raise NotFound(f"no documentation file {name!r}")
    path = SWAGGER_DIR / name
    if not path.is_file():
        raise DocsNotBuilt(f"{path} is missing: run `make build` to copy Swagger UI from npm")
    return Response(
        path.read_bytes(),
        media_type=ASSETS[name],
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
