def payment_account_dashboard(*, tenant) -> dict:
    """Context for the dashboard's payment-account panel. The payments issue fills this in with the
    tenant's Stripe-linked payment account; until then there is none and creation is not yet possible."""
    return {"payment_account": None, "payment_account_enabled": False}
