"""Browser end-to-end tests: Playwright drives the system's Chromium against pytest-django's live server.

Chromium comes from the OS (`apt-get install chromium`; `.ci/run` installs it). Without it these tests are
skipped locally, but CI sets E2E_REQUIRED=1 and then a missing browser is a failure, never a silent skip.
Each test leaves a full-page screenshot in artifacts/e2e/<test name>.png.
"""

import os
import re
import shutil
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parent.parent.parent / "artifacts" / "e2e"
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make here are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM:
        if os.environ.get("E2E_REQUIRED") == "1":
            pytest.fail("Chromium is required for the end-to-end tests (apt-get install chromium).")
        pytest.skip("Chromium not installed; set CHROMIUM_PATH or apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server, request):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    try:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    finally:
        context.close()


@pytest.fixture
def sign_in(page):
    from tests.factories import DEFAULT_PASSWORD

    def _sign_in(user, password=DEFAULT_PASSWORD):
        page.goto("/accounts/login/")
        page.fill("input[name=login]", user.email)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_load_state()

    return _sign_in


def sign_in_as_owner_and_invite(page, tenant, email, mailoutbox, role="manager"):
    """The owner invites `email` through the members page; returns the accept path from the e-mail."""
    import re

    from tests.factories import DEFAULT_PASSWORD

    page.goto("/accounts/login/")
    page.fill("input[name=login]", tenant.representative.email)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"/t/{tenant.slug}/members/")
    page.fill("#id_email", email)
    page.select_option("#id_role", role)
    page.get_by_role("button", name="Send invitation").click()
    page.get_by_text(f"Invitation sent to {email}").wait_for()
    return re.search(r"(/invitations/[^/\s]+/)", mailoutbox[-1].body).group(1)
