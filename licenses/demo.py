"""Demo state of licenses for `make run`: each tenant's RPs, as many as its license allows (the licenses
themselves are bought in payments/demo.py, which runs first: a paid plan needs a payment method)."""

from accounts.models import RelyingParty

from .selectors import license_get

DEMO_RPS = ["login.example.com", "shop.example.com", "app.example.com"]


def seed(*, tenants, users, stdout):
    for tenant in tenants.values():
        license = license_get(tenant=tenant)
        limit = getattr(getattr(license, "plan", None), "max_rps", None)
        for rp in DEMO_RPS[: min(len(DEMO_RPS), limit or len(DEMO_RPS))]:  # stay within the license's max RPs
            RelyingParty.objects.get_or_create(
                tenant=tenant, rp_id=rp, defaults={"name": rp.split(".")[0].title()}
            )
