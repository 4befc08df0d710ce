from .common.api import api_view


@api_view(["GET"])
def whoami(request):
    """Which key is this? Lets the operator check a key without touching a tenant."""
    key = request.api_key
    return {"name": key.name, "scope": key.scope, "tenant": key.tenant.slug if key.tenant else None}
