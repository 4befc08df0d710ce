"""Fixed-window rate limits in the cache (Redis): `hit(key, limit, window)` says whether one more is allowed;
`count`/`record`/`reset` for limits that count failures only (the sign-in throttle). The cache fails open."""

from django.core.cache import cache


def hit(key: str, *, limit: int, window_seconds: int) -> bool:
    """Count one attempt; True while the count within the window is at most `limit`."""
    cache_key = f"ratelimit:{key}"
    if cache.add(cache_key, 1, timeout=window_seconds):
        return True
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.add(cache_key, 1, timeout=window_seconds)
        return True
    return count <= limit


def count(key: str) -> int:
    """Attempts recorded in the current window."""
    return int(cache.get(f"ratelimit:{key}") or 0)


def record(key: str, *, window_seconds: int) -> int:
    """Record one attempt (the window starts with the first); returns the count."""
    cache_key = f"ratelimit:{key}"
    if cache.add(cache_key, 1, timeout=window_seconds):
        return 1
    try:
        return cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.add(cache_key, 1, timeout=window_seconds)
        return 1


def reset(key: str) -> None:
    cache.delete(f"ratelimit:{key}")
