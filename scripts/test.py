"""`make test`: make sure PostgreSQL, Redis and the Stripe stand-in are there, then run pytest."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))

import devservices  # noqa: E402


def main() -> int:
    env = dict(os.environ)
    env.update(devservices.service_environment("billing_portal"))
    env["DJANGO_SETTINGS_MODULE"] = "billing_portal.settings.test"
    result = subprocess.run([sys.executable, "-m", "pytest", *sys.argv[1:]], env=env, cwd=devservices.ROOT)  # noqa: S603
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
