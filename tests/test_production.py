"""The README's production path, end to end: check --deploy, collectstatic with the manifest storage, then gunicorn
under production settings serving a page, a hashed static file and the health endpoints (CI runs this)."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database_url() -> str:
    """DATABASE_URL with the test database's name (migrated by pytest-django) for the production process."""
    from urllib.parse import urlsplit, urlunsplit

    from django.db import connection

    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


def production_env(static_root: Path) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "billing_portal.settings.production",
        "DJANGO_SECRET_KEY": "x" * 20 + "-a-long-random-production-secret-value-0123456789",
        "INVOICE_REGISTRATION_NUMBER": "T7123456789012",  # production sets the seller's (docs/japan.md)
        "DJANGO_ALLOWED_HOSTS": "billing.example.com,127.0.0.1",
        "DJANGO_STATIC_ROOT": str(static_root),
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set for the browser tests only
    return env


def _get(url, **headers):
    request = urllib.request.Request(url, headers={"Host": "billing.example.com", **headers})

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.fixture
def gunicorn(tmp_path, transactional_db):
    static_root = tmp_path / "static"
    env = production_env(static_root)
    for command in (["check", "--deploy", "--fail-level", "WARNING"], ["collectstatic", "--noinput"]):
        result = subprocess.run(
            [sys.executable, "manage.py", *command],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"manage.py {' '.join(command)}:\n{result.stdout}{result.stderr}"
    assert (static_root / "staticfiles.json").exists()
    port = _free_port()
    proc = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "gunicorn",
            "billing_portal.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode()
                time.sleep(0.1)
        yield base, static_root
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def test_production_deploy_serves_pages_and_static_files(gunicorn):
    import json

    gunicorn, static_root = gunicorn
    https = {"X-Forwarded-Proto": "https"}  # what the TLS-terminating proxy sends
    # Plain HTTP is redirected to HTTPS.
    status, headers, _ = _get(f"{gunicorn}/accounts/login/")
    assert status == 301 and headers["Location"].startswith("https://billing.example.com/")

    status, headers, body = _get(f"{gunicorn}/accounts/login/", **https)
    page = body.decode()
    assert status == 200, page[:2000]
    assert "Sign In" in page or "Sign in" in page
    assert "Strict-Transport-Security" in headers
    # The page links the manifest's hashed file name, and whitenoise serves it with a far-future cache.
    css = re.search(r'href="(/static/css/portal\.[0-9a-f]{12}\.css)"', page)
    assert css, "the page does not link a hashed portal.css"
    status, headers, body = _get(gunicorn + css.group(1), **https)
    assert status == 200 and b"{" in body
    assert "immutable" in headers.get("Cache-Control", "")
    # The vendored Chart.js is served too (the file collectstatic used to choke on).
    manifest = json.loads((static_root / "staticfiles.json").read_text())["paths"]
    status, headers, body = _get(f"{gunicorn}/static/{manifest['vendor/chartjs/chart.umd.min.js']}", **https)
    assert status == 200 and b"Chart" in body
    status, _, body = _get(f"{gunicorn}/healthz", **https)
    assert status == 200, body
    assert json.loads(body)["status"] == "ok"
    status, _, body = _get(f"{gunicorn}/readyz", **https)
    assert status == 200, body
