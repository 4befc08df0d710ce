"""Django's error views, answering JSON `{"error": {"code", "message"}}` for the operator API (/api/) and Django's
usual pages elsewhere."""

from django.views import defaults

from .api import api_bad_request, api_not_found, api_server_error, is_api_request


def bad_request(request, exception):
    if is_api_request(request):
        return api_bad_request(request, exception)
    return defaults.bad_request(request, exception)


def page_not_found(request, exception):
    if is_api_request(request):
        return api_not_found(request, exception)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if is_api_request(request):
        return api_server_error(request)
    return defaults.server_error(request)
