"""Translation catalogues without system gettext.

    python scripts/i18n.py tidy      # after makemessages: entries sorted, unwrapped (the committed form)
    python scripts/i18n.py compile   # locale/*/LC_MESSAGES/{django,djangojs}.po -> .mo (commit both)
    python scripts/i18n.py check     # exit 1 if a .mo is stale or a .po has fuzzy/untranslated entries

New strings are collected into the .po with `python manage.py makemessages -l ja` (and `-d djangojs` for
static/js; that step needs GNU gettext, as Django's makemessages does; tidying, compiling and checking do not).
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_portal.settings.test")

import django  # noqa: E402

django.setup()

from billing_portal.common import catalogues  # noqa: E402


def main(argv):
    command = argv[1] if len(argv) > 1 else "check"
    if command == "tidy":
        for po in catalogues.tidy_all():
            print(f"tidied {po}")
        return 0
    if command == "compile":
        for po in catalogues.po_paths():
            for problem in catalogues.problems(catalogues.read_po(po)):
                print(f"{po}: {problem}")
        for mo in catalogues.compile_all():
            print(f"wrote {mo}")
        return 0
    if command == "check":
        failed = False
        for po in catalogues.po_paths():
            for problem in catalogues.problems(catalogues.read_po(po)):
                print(f"{po}: {problem}")
                failed = True
            if not catalogues.mo_is_current(po):
                print(f"{po.with_suffix('.mo')} is not current: run `python scripts/i18n.py compile`")
                failed = True
        return 1 if failed else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
