"""Translation catalogues compiled and checked in pure Python (Babel): no system gettext needed.

`locale/<lang>/LC_MESSAGES/django.po` (pages, e-mails, Python) and `djangojs.po` (the scripts in static/js, served
by the JavaScript catalogue at /jsi18n/) are the sources; each compiled `.mo` is committed next to it so that
`make run` needs nothing but Python. `python scripts/i18n.py compile` rewrites the .mo files; the test suite
(`tests/common/test_i18n.py`) fails when a committed .mo is not current with its .po, or when a .po has fuzzy or
untranslated entries.
"""

from io import BytesIO
from pathlib import Path

from django.conf import settings


def po_paths() -> list[Path]:
    return sorted(
        Path(p)
        for root in settings.LOCALE_PATHS
        for domain in ("django", "djangojs")
        for p in Path(root).glob(f"*/LC_MESSAGES/{domain}.po")
    )


def read_po(path: Path):
    from babel.messages.pofile import read_po as babel_read_po

    with open(path, "rb") as f:
        return babel_read_po(f, abort_invalid=True)


def problems(catalog) -> list[str]:
    """Fuzzy or untranslated entries (the header excepted)."""
    found = []
    for message in catalog:
        if not message.id:
            continue
        if message.fuzzy:
            found.append(f"fuzzy: {message.id!r}")
        strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
        if not all(strings):
            found.append(f"untranslated: {message.id!r}")
    return found


def compile_mo(catalog) -> bytes:
    from babel.messages.mofile import write_mo

    out = BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def _messages(catalog) -> dict:
    def key(m):
        return (m.context, m.id if isinstance(m.id, str) else tuple(m.id))

    def value(m):
        return m.string if isinstance(m.string, str) else tuple(m.string)

    return {key(m): value(m) for m in catalog if m.id and not m.fuzzy and m.string}


def mo_is_current(po_path: Path) -> bool:
    """The committed .mo holds exactly the .po's translations."""
    from babel.messages.mofile import read_mo

    mo_path = po_path.with_suffix(".mo")
    if not mo_path.exists():
        return False
    with open(mo_path, "rb") as f:
        compiled = read_mo(f)
    return _messages(compiled) == _messages(read_po(po_path))


def tidy_all() -> list[Path]:
    """Rewrite each .po in its committed form: entries sorted by msgid, lines unwrapped (what makemessages
    rewraps and reorders comes back), so that parallel branches' additions merge line by line (git's union
    driver, .gitattributes)."""
    from babel.messages.pofile import write_po

    written = []
    for po in po_paths():
        out = BytesIO()
        write_po(out, read_po(po), width=0, sort_output=True)
        if out.getvalue() != po.read_bytes():
            po.write_bytes(out.getvalue())
            written.append(po)
    return written


def compile_all() -> list[Path]:
    written = []
    for po in po_paths():
        catalog = read_po(po)
        po.with_suffix(".mo").write_bytes(compile_mo(catalog))
        written.append(po.with_suffix(".mo"))
    return written
