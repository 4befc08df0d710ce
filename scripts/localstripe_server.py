"""The Stripe stand-in for development and tests: PyPI `localstripe`, on loopback only, state in memory.

localstripe's own CLI listens on all interfaces (IPv4 and IPv6) and pickles its state to
/tmp/localstripe.pickle after every write. This wrapper binds the given host (127.0.0.1 by default)
and turns the pickle off, so each run starts empty and nothing leaves the process.
Reset everything with `DELETE /_config/data`; register a webhook target with
`POST /_config/webhooks/<id>` (url, secret).

    python scripts/localstripe_server.py --host 127.0.0.1 --port 8420
"""

import argparse
import logging

from aiohttp import web
from localstripe import resources, server


def _in_memory_only() -> None:
    # Replace the disk persistence with no-ops: the store is a plain in-memory dict.
    resources.Store.dump_to_disk = lambda self: None
    resources.Store.try_load_from_disk = lambda self: None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--quiet", action="store_true", help="no access log")
    args = parser.parse_args()
    _in_memory_only()
    logger = logging.getLogger("aiohttp.access")
    if not args.quiet:
        logger.setLevel(logging.INFO)
        logger.addHandler(logging.StreamHandler())
    web.run_app(server.app, host=args.host, port=args.port, access_log=logger, print=None)


if __name__ == "__main__":
    main()
