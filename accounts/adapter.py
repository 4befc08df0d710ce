"""django-allauth adapter: client addresses through the trusted-proxy rule, and the sign-in throttle of
`accounts.login_throttle` instead of allauth's per-account lockout (which let anyone lock an owner out)."""

from allauth.account.adapter import DefaultAccountAdapter

from billing_portal.common.client_ip import client_ip

from . import login_throttle


class AccountAdapter(DefaultAccountAdapter):
    def get_client_ip(self, request) -> str:
        return client_ip(request)

    def pre_authenticate(self, request, **credentials) -> None:
        self._login_failed_rl_usage = None  # allauth's own password lockout is not used
        if login_throttle.refused(request, credentials.get("email", "")):
            raise self.validation_error("too_many_login_attempts")

    def authenticate(self, request, **credentials):
        user = super().authenticate(request, **credentials)
        if user is not None:
            login_throttle.record_success(request, credentials.get("email", ""))
        return user

    def authentication_failed(self, request, **credentials) -> None:
        login_throttle.record_failure(request, credentials.get("email", ""))

    def post_login(self, request, user, **kwargs):
        response = super().post_login(request, user, **kwargs)
        login_throttle.remember_device(request, response, user.email)
        return response
