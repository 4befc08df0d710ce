from accounts.models import ApiKey, hash_api_key


def _api_key(tenant):
    raw = ApiKey.generate_raw_key()
    key = ApiKey.objects.create(name="sample", tenant=tenant, prefix=raw[:11], key_hash=hash_api_key(raw))
    return {"key_id": key.pk}


SAMPLES = {"metering_api_key_revoke": _api_key}
