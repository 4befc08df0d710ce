import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_portal.settings.local")

application = get_wsgi_application()

# Import every URLconf and view module (WeasyPrint among them) while the worker boots, not inside its first
# request: under load that first request otherwise waits a second or more (profile in README, "make bench").
from django.urls import get_resolver  # noqa: E402

get_resolver().url_patterns  # noqa: B018

# Move everything imported so far out of the garbage collector's reach: gunicorn --preload workers then do not
# copy-on-write the whole boot heap (a full collection writes into every tracked object) or scan it again.
import gc  # noqa: E402

gc.freeze()
