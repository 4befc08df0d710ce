"""Every text a person reads goes through the catalogue: each template with text loads i18n and has no English left
outside {% translate %} / {% blocktranslate %}; the scripts' strings go through gettext(); `scripts/i18n.py check`
passes (no fuzzy or untranslated entry, compiled catalogues current)."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
TEMPLATES = ROOT / "templates"
SCRIPTS = ROOT / "static" / "js"

# Every template is checked, the PDF documents' (templates/payments/documents/) included.
PDF_TEMPLATES = set()

# Words that read the same in Japanese pages: product and brand names, codes, units.
ALLOWED = {
    "MAU",
    "MAUs",
    "RP",
    "RPs",
    "API",
    "ID",
    "IDs",
    "Stripe",
    "CSV",
    "PDF",
    "MRR",
    "ARR",
    "JPY",
    "USD",
    "UTC",
    "JST",
    "Free",
    "Starter",
    "Business",
    "Enterprise",
    "Django",
    "URL",
    "DAU",
    "cus",
    "localstripe",
    "always",
    "invoice",
    "https",
}

LOAD_I18N = re.compile(r"\{%\s*load\s[^%]*\bi18n\b")
TRANSLATED_BLOCK = re.compile(r"\{%\s*blocktrans(?:late)?\b.*?%\}.*?\{%\s*endblocktrans(?:late)?\s*%\}", re.S)
TRANSLATE_TAG = re.compile(r"\{%\s*trans(?:late)?\s.*?%\}", re.S)
COMMENT = re.compile(r"\{#.*?#\}|\{%\s*comment\s*%\}.*?\{%\s*endcomment\s*%\}", re.S)
TAG_OR_VARIABLE = re.compile(r"\{%.*?%\}|\{\{.*?\}\}", re.S)
CLASS_BLOCK = re.compile(r"\{%\s*block\s+\w*class\w*\s*%\}.*?\{%\s*endblock\b[^%]*%\}", re.S)
TEXT_ATTRIBUTE = re.compile(r'\s(?:aria-label|title|placeholder|alt)="([^"]*)"')
BUTTON_VALUE = re.compile(
    r'<input\b[^>]*\btype="(?:submit|button)"[^>]*\bvalue="([^"]*)"|'
    r'<input\b[^>]*\bvalue="([^"]*)"[^>]*\btype="(?:submit|button)"'
)
PATH_OR_MASK = re.compile(r"\S*/\S*|\bX{2,}(?:-X{2,})*\b")
HTML_TAG = re.compile(r"<[^>]+>")
SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b.*?</\1>", re.S)
ENGLISH_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]+")


def _templates():
    return sorted(p for p in TEMPLATES.rglob("*") if p.is_file() and p.suffix in (".html", ".txt"))


def _untranslated_words(text: str) -> list[str]:
    text = CLASS_BLOCK.sub(" ", COMMENT.sub(" ", text))
    text = TRANSLATED_BLOCK.sub(" ", text)
    text = TRANSLATE_TAG.sub(" ", text)
    text = TAG_OR_VARIABLE.sub(" ", text)
    text = SCRIPT_OR_STYLE.sub(" ", text)
    attributes = " ".join(TEXT_ATTRIBUTE.findall(text) + [a or b for a, b in BUTTON_VALUE.findall(text)])
    text = PATH_OR_MASK.sub(" ", HTML_TAG.sub(" ", text) + " " + attributes)
    text = re.sub(r"&[a-z]+;|&#\d+;", " ", text)
    return [w for w in ENGLISH_WORD.findall(text) if w not in ALLOWED]


def _has_text(text: str) -> bool:
    stripped = TAG_OR_VARIABLE.sub(" ", CLASS_BLOCK.sub(" ", COMMENT.sub(" ", text)))
    stripped = HTML_TAG.sub(" ", SCRIPT_OR_STYLE.sub(" ", stripped))
    return bool(re.search(r"[^\W\d_]{2,}", stripped))


def test_every_template_with_text_loads_i18n():
    missing = [
        str(p.relative_to(TEMPLATES))
        for p in _templates()
        if str(p.relative_to(TEMPLATES)) not in PDF_TEMPLATES
        and _has_text(p.read_text())
        and not LOAD_I18N.search(p.read_text())
    ]
    assert missing == []


def test_no_english_left_outside_translation_tags():
    found = {}
    for path in _templates():
        name = str(path.relative_to(TEMPLATES))
        if name in PDF_TEMPLATES:
            continue
        words = _untranslated_words(path.read_text())
        if words:
            found[name] = words
    assert found == {}


def test_the_detector_catches_untranslated_text():
    assert _untranslated_words('<p>{% translate "Saved" %}</p>') == []
    assert _untranslated_words("<p>Saved {{ name }}</p>") == ["Saved"]
    assert _untranslated_words('<button aria-label="Close">{% translate "OK" %}</button>') == ["Close"]
    assert _untranslated_words("{% blocktranslate %}Hello {{ n }}{% endblocktranslate %} MAU") == []
    assert _untranslated_words('<input type="submit" value="Send">') == ["Send"]
    assert _untranslated_words('<input type="hidden" name="step" value="confirm">') == []


STRING_LITERAL = re.compile(r'"((?:[^"\\]|\\.)*)"')


def test_script_strings_go_through_gettext():
    untranslated = []
    for path in sorted(SCRIPTS.glob("*.js")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            code = line.split("//", 1)[0]
            for match in STRING_LITERAL.finditer(code):
                literal = match.group(1)
                if len(ENGLISH_WORD.findall(literal)) < 2 or not re.search(r"[A-Z][a-z]", literal):
                    continue  # ids, selectors, keys, colours, single words such as "MRR"
                before = code[: match.start()]
                if re.search(r"(?:gettext|pgettext|ngettext)\(\s*(?:\"[^\"]*\",\s*)?$", before):
                    continue
                untranslated.append(f"{path.name}:{number}: {literal}")
    assert untranslated == []


def test_i18n_check_script_passes():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "i18n.py"), "check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
