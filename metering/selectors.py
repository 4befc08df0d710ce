def mau_count(*, tenant, year: int, month: int, rp_id: str | None = None) -> int:
    """Exact MAU of a tenant (optionally one RP) for a calendar month in the tenant's time zone.

    Placeholder until the metering issue lands its counters: no authentication events are recorded yet.
    """
    return 0
