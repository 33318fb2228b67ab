"""Pages that work with no internet and look right on a machine without Urdu fonts: the API
docs load their Swagger UI from the server itself, the Urdu portal is drawn with the Nastaliq web
font that Amanat ships (a family name no system font has), and `/` leads to the portal."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Request, expect

from tests.web.support import LiveConsole


@pytest.fixture
def offline_page(browser: Browser, console: LiveConsole) -> Iterator[tuple[Page, list[str]]]:
    """A page whose requests to anywhere but the console are aborted and recorded."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    outside: list[str] = []
    own_host = urlsplit(console.base_url).netloc

    def only_local(route, request: Request) -> None:  # type: ignore[no-untyped-def]
        if urlsplit(request.url).netloc == own_host or request.url.startswith("data:"):
            route.continue_()
        else:
            outside.append(request.url)
            route.abort()

    context.route("**/*", only_local)
    yield context.new_page(), outside
    context.close()


def test_api_docs_render_with_no_request_leaving_the_server(
    offline_page: tuple[Page, list[str]], console: LiveConsole
) -> None:
    page, outside = offline_page
    response = page.goto(console.url("/docs"))
    assert response is not None and response.status == 200
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Amanat")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    assert outside == []


def test_urdu_portal_uses_the_shipped_nastaliq_web_font(
    offline_page: tuple[Page, list[str]], console: LiveConsole
) -> None:
    page, outside = offline_page
    fonts: list[tuple[str, int, str]] = []
    page.on(
        "response",
        lambda r: fonts.append((r.url, r.status, r.headers.get("content-type", "")))
        if "/fonts/" in r.url
        else None,
    )
    page.goto(console.url("/portal/ur"))
    page.evaluate("document.fonts.ready")
    family = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert family.startswith('"Amanat Nastaliq Urdu"')
    loaded = page.evaluate(
        "[...document.fonts].filter(f => f.family.includes('Amanat Nastaliq Urdu')"
        " && f.status === 'loaded').length"
    )
    assert loaded >= 1
    assert fonts and all(status == 200 and kind == "font/woff2" for _, status, kind in fonts)
    # Latin digits in Urdu pages keep one face, not the Nastaliq one
    digits = page.evaluate("getComputedStyle(document.querySelector('.num')).fontFamily")
    assert "Nastaliq" not in digits
    assert outside == []


def test_the_root_leads_to_the_portal(
    offline_page: tuple[Page, list[str]], console: LiveConsole
) -> None:
    page, _ = offline_page
    page.goto(console.url("/"))
    page.wait_for_url(console.url("/portal"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
