"""E-mail through Django's mail framework: one template set per message, plain text and HTML.

`templates/emails/<name>_subject.txt`, `<name>.txt` and `<name>.html` are rendered with the same context.
"""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string


def send_templated_mail(*, name: str, to: list[str], context: dict) -> None:
    context = {"site_url": getattr(settings, "PORTAL_BASE_URL", ""), **context}
    subject = " ".join(render_to_string(f"emails/{name}_subject.txt", context).split())
    text = render_to_string(f"emails/{name}.txt", context)
    html = render_to_string(f"emails/{name}.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=to)
    message.attach_alternative(html, "text/html")
    message.send()
