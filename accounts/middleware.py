from django.utils import translation


class UserLanguageMiddleware:
    """After LocaleMiddleware (cookie, then Accept-Language): a signed-in user's saved language wins."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        language = getattr(user, "language", "") if user is not None and user.is_authenticated else ""
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        if language:
            response.headers["Content-Language"] = language
        return response
