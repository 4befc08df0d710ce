"""`make test`: make sure PostgreSQL, Redis and the Stripe stand-in are there, then run pytest."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))

import devservices  # noqa: E402


def main() -> int:
    # Tests always talk to the local Stripe stand-in, never to a Stripe account configured in the shell.
    for name in ("STRIPE_API_BASE", "STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET"):
        os.environ.pop(name, None)
    env = dict(os.environ)
    env.update(devservices.service_environment("billing_portal"))
    env["DJANGO_SETTINGS_MODULE"] = "billing_portal.settings.test"
    result = subprocess.run([sys.executable, "-m", "pytest", *sys.argv[1:]], env=env, cwd=devservices.ROOT)  # noqa: S603
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
