"""One domain error type. Views turn it into a message, the API into `{"error": {"code", "message"}}`."""


class ApplicationError(Exception):
    """A failure the user can understand and act on.

    `code` is stable and machine-readable (used by the API, always English), `message` is for people: a translated
    string (`gettext` where it is raised, or `gettext_lazy` for module-level texts; views and the API render it in
    the request's language),
    `status` is the HTTP status the API answers with, `extra` carries details (e.g. per-field errors).
    """

    default_code = "application_error"
    default_status = 400

    def __init__(self, message, *, code=None, status=None, extra=None):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.status = status or self.default_status
        self.extra = extra or {}


class NotFound(ApplicationError):
    default_code = "not_found"
    default_status = 404


class Conflict(ApplicationError):
    default_code = "conflict"
    default_status = 409


class LimitExceeded(Conflict):
    default_code = "limit_exceeded"
