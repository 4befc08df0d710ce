"""E-mail through Django's mail framework: one template set per message, plain text and HTML.

`templates/emails/<name>_subject.txt`, `<name>.txt` and `<name>.html` are rendered with the same context, in each
recipient's language (User.language; addresses without a saved language get LANGUAGE_CODE): one message per language.
"""

from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone, translation


def _recipient_languages(to: list[str]) -> dict[str, list[str]]:
    from django.contrib.auth import get_user_model

    saved = dict(
        get_user_model().objects.filter(email__in=to).exclude(language="").values_list("email", "language")
    )
    groups: dict[str, list[str]] = {}
    for address in to:
        groups.setdefault(saved.get(address, settings.LANGUAGE_CODE), []).append(address)
    return groups


def send_templated_mail(*, name: str, to: list[str], context: dict, time_zone: str | None = None) -> None:
    """Dates in the message are shown in `time_zone` (the tenant's), else in UTC."""
    if not to:
        return
    context = {"site_url": getattr(settings, "PORTAL_BASE_URL", ""), **context}
    for language, addresses in _recipient_languages(to).items():
        with timezone.override(ZoneInfo(time_zone) if time_zone else None), translation.override(language):
            subject = " ".join(render_to_string(f"emails/{name}_subject.txt", context).split())
            text = render_to_string(f"emails/{name}.txt", context)
            html = render_to_string(f"emails/{name}.html", context)
        message = EmailMultiAlternatives(subject=subject, body=text, to=addresses)
        message.attach_alternative(html, "text/html")
        message.send()
