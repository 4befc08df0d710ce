"""`make run`: services, migrations, demo data, then web (gunicorn + whitenoise, as in production) + Celery worker
+ beat until Ctrl-C. `make run RELOAD=1` restarts the web workers when Python code changes (development)."""

import os
import signal
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))

import devservices  # noqa: E402

ROOT = devservices.ROOT


def web_command(python: str, port: int, *, reload: bool = False, workers: int = 2) -> list[str]:
    """gunicorn serving the WSGI app; static files come from whitenoise (middleware), as in production."""
    command = [
        python,
        "-m",
        "gunicorn",
        "billing_portal.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        "4",
        "--access-logfile",
        "-",
        "--graceful-timeout",
        "5",
    ]
    if reload:
        command.append("--reload")  # templates reload anyway (DEBUG: no cached loader); static via finders
    return command


def main() -> int:
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "billing_portal.settings.local")
    env.update(devservices.service_environment("billing_portal"))
    python = sys.executable
    manage = [python, str(ROOT / "manage.py")]

    subprocess.run([*manage, "migrate", "--noinput"], env=env, check=True, cwd=ROOT)  # noqa: S603
    subprocess.run([*manage, "seed_demo"], env=env, check=True, cwd=ROOT)  # noqa: S603
    subprocess.run([*manage, "collectstatic", "--noinput", "--verbosity", "0"], env=env, check=True, cwd=ROOT)  # noqa: S603
    reload = os.environ.get("RELOAD", "").strip().lower() in {"1", "true", "yes", "on"}

    port = int(os.environ.get("PORT", "8000"))
    try:
        with devservices.socket.create_connection(("127.0.0.1", port), timeout=0.2):
            port = devservices.free_port()
            devservices.log(f"Port {os.environ.get('PORT', '8000')} is busy; using {port}")
    except OSError:
        pass
    url = f"http://127.0.0.1:{port}/"
    env["PORTAL_BASE_URL"] = url.rstrip("/")
    # Local development: outgoing webhooks may go to receivers on this machine (never in production).
    env.setdefault("OUTGOING_WEBHOOKS_ALLOW_PRIVATE", "true")

    logs = ROOT / ".var" / "log"
    logs.mkdir(parents=True, exist_ok=True)
    procs = {
        "web": devservices.spawn(web_command(python, port, reload=reload), env=env, cwd=ROOT),
        "worker": devservices.spawn(
            [
                python,
                "-m",
                "celery",
                "-A",
                "billing_portal",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                "2",
            ],
            env=env,
            cwd=ROOT,
            stdout=open(logs / "worker.log", "a"),
            stderr=subprocess.STDOUT,  # noqa: SIM115
        ),
        "beat": devservices.spawn(
            [
                python,
                "-m",
                "celery",
                "-A",
                "billing_portal",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(ROOT / ".var" / "celerybeat-schedule"),
            ],
            env=env,
            cwd=ROOT,
            stdout=open(logs / "beat.log", "a"),
            stderr=subprocess.STDOUT,  # noqa: SIM115
        ),
    }
    for _ in range(100):
        try:
            urllib.request.urlopen(url + "readyz", timeout=1)  # noqa: S310
            break
        except OSError:
            time.sleep(0.2)
    devservices.register_stripe_webhook(env, env["PORTAL_BASE_URL"])
    print(
        f"\n  Billing portal is running at {url}\n"
        f"  Django admin: {url}admin/  (Celery logs in .var/log/)\n"
        f"  Served by gunicorn + whitenoise{' with auto-reload' if reload else ' (make run RELOAD=1 reloads on code changes)'}.\n"
        "  Demo logins are listed above (password for all: demo-pass-2026).\n"
        "  Press Ctrl-C to stop everything started here.\n",
        flush=True,
    )
    stop = False

    def _handle(signum, frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, _handle)
    signal.signal(signal.SIGTERM, _handle)
    while not stop:
        for name, proc in procs.items():
            if proc.poll() is not None:
                devservices.log(f"{name} exited with {proc.returncode}; stopping everything")
                return 1
        time.sleep(0.5)
    devservices.log("Stopping…")
    return 0


if __name__ == "__main__":
    sys.exit(main())
