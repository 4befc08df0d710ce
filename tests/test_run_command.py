"""`make run` serves with gunicorn and whitenoise (what production runs), auto-reload only when asked."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_production import _database_url, _free_port, _get

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))


def test_web_command_is_gunicorn_with_optional_reload():
    import run

    command = run.web_command("python", 8123)
    assert command[:4] == ["python", "-m", "gunicorn", "billing_portal.wsgi"]
    assert "127.0.0.1:8123" in command and "--reload" not in command
    assert "--reload" in run.web_command("python", 8123, reload=True)


@pytest.mark.django_db(transaction=True)
def test_make_runs_web_server_serves_pages_and_static_files():
    import run

    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "billing_portal.settings.local",
        "DATABASE_URL": _database_url(),
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    proc = subprocess.Popen(
        run.web_command(sys.executable, port, workers=1),
        env=env,
        cwd=ROOT,  # noqa: S603
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None, "gunicorn exited"
                time.sleep(0.1)
        status, headers, body = _get(f"{base}/accounts/login/", Host="127.0.0.1")
        assert status == 200 and headers["Server"].startswith("gunicorn")
        assert b"/static/css/portal.css" in body
        status, headers, body = _get(f"{base}/static/css/portal.css", Host="127.0.0.1")
        assert status == 200 and b"{" in body  # whitenoise (gunicorn itself serves no files)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
