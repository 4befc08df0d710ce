"""The operator API's interactive docs (/api/v1/docs) work in a browser under the site's Content-Security-Policy,
with every asset from this site: the operations are listed and "Try it out" calls the API with a key."""

import pytest

from tests.metering.factories import make_api_key

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_docs_page_lists_the_api_and_calls_it_with_a_key(page, live_server):
    raw = make_api_key()
    problems, outside = [], []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on(
        "request", lambda req: outside.append(req.url) if not req.url.startswith(live_server.url) else None
    )

    response = page.goto("/api/v1/docs")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.get_by_text("billing_portal operator API").first.wait_for()
    page.locator(".opblock-summary-path", has_text="/api/v1/tenants/{tenant}/auth-events").first.wait_for()
    assert page.locator(".opblock").count() >= 22

    page.get_by_role("button", name="Authorize").first.click()
    page.locator(".modal-ux input[type=text], .modal-ux input[type=password]").first.fill(raw)
    page.locator(".modal-ux button.authorize").click()
    page.locator(".modal-ux button.btn-done").click()

    whoami = page.locator(".opblock", has=page.locator(".opblock-summary-path", has_text="/api/v1/whoami"))
    whoami.locator(".opblock-summary").click()
    whoami.get_by_role("button", name="Try it out").click()
    whoami.get_by_role("button", name="Execute").click()
    live = whoami.locator(".live-responses-table")
    live.locator(".response-col_status", has_text="200").wait_for()
    assert '"scope": "platform"' in live.inner_text()

    assert outside == []  # no CDN: every script, style, font and image came from this site
    assert [p for p in problems if "Content Security Policy" in p or "Refused" in p] == []
    assert problems == []
