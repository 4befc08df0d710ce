"""The client's IP address, trusting X-Forwarded-For only from the reverse proxies in settings.TRUSTED_PROXIES.

Behind a proxy every request comes from the proxy's address; the proxy appends the address it saw to
X-Forwarded-For. Walking that header from the right, each hop that is a trusted proxy is skipped and the
first untrusted address is the client. A request that does not come from a trusted proxy is taken at its
REMOTE_ADDR, whatever X-Forwarded-For it carries (a client can write anything there).
"""

import ipaddress
from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]):
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _parse(value: str):
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def is_trusted_proxy(address) -> bool:
    networks = _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ())))
    return address is not None and any(address in network for network in networks)


def client_ip(request) -> str:
    remote = _parse(request.META.get("REMOTE_ADDR", ""))
    if not is_trusted_proxy(remote):
        return str(remote) if remote else request.META.get("REMOTE_ADDR", "")
    hops = [hop for hop in request.headers.get("X-Forwarded-For", "").split(",") if hop.strip()]
    address = remote
    for hop in reversed(hops):
        parsed = _parse(hop)
        if parsed is None:
            break  # garbage from further left cannot be trusted: stop at the last good address
        address = parsed
        if not is_trusted_proxy(parsed):
            break
    return str(address)
