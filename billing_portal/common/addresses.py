"""Japanese postal addresses: postal code (〒, 7 digits shown as 123-4567) and prefecture (都道府県, JIS X 0401 code).

A customer's address is stored as postal code + prefecture + the rest (city, street, building) and written the way
its own script writes it, whatever the page's language: 〒100-0005 東京都千代田区丸の内1-2-3 for an address in
Japanese, "1-2-3 Marunouchi, Chiyoda-ku, Tokyo 100-0005" for one in Latin letters (a bare postal code and
prefecture follow the page's language).
"""

import re

from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from .text import normalize_digits

# JIS X 0401 codes, in their official order (north to south). The English names translate to the Japanese ones.
PREFECTURE_CHOICES = [
    ("01", _("Hokkaido")),
    ("02", _("Aomori")),
    ("03", _("Iwate")),
    ("04", _("Miyagi")),
    ("05", _("Akita")),
    ("06", _("Yamagata")),
    ("07", _("Fukushima")),
    ("08", _("Ibaraki")),
    ("09", _("Tochigi")),
    ("10", _("Gunma")),
    ("11", _("Saitama")),
    ("12", _("Chiba")),
    ("13", _("Tokyo")),
    ("14", _("Kanagawa")),
    ("15", _("Niigata")),
    ("16", _("Toyama")),
    ("17", _("Ishikawa")),
    ("18", _("Fukui")),
    ("19", _("Yamanashi")),
    ("20", _("Nagano")),
    ("21", _("Gifu")),
    ("22", _("Shizuoka")),
    ("23", _("Aichi")),
    ("24", _("Mie")),
    ("25", _("Shiga")),
    ("26", _("Kyoto")),
    ("27", _("Osaka")),
    ("28", _("Hyogo")),
    ("29", _("Nara")),
    ("30", _("Wakayama")),
    ("31", _("Tottori")),
    ("32", _("Shimane")),
    ("33", _("Okayama")),
    ("34", _("Hiroshima")),
    ("35", _("Yamaguchi")),
    ("36", _("Tokushima")),
    ("37", _("Kagawa")),
    ("38", _("Ehime")),
    ("39", _("Kochi")),
    ("40", _("Fukuoka")),
    ("41", _("Saga")),
    ("42", _("Nagasaki")),
    ("43", _("Kumamoto")),
    ("44", _("Oita")),
    ("45", _("Miyazaki")),
    ("46", _("Kagoshima")),
    ("47", _("Okinawa")),
]

# The Japanese names as written in addresses (with 都/道/府/県), for recognising a prefecture at the start of an
# address typed as one line (existing data, pasted addresses).
PREFECTURE_NAMES_JA = dict(
    zip(
        [code for code, _label in PREFECTURE_CHOICES],
        "北海道 青森県 岩手県 宮城県 秋田県 山形県 福島県 茨城県 栃木県 群馬県 埼玉県 千葉県 東京都 神奈川県 新潟県 富山県 石川県 "
        "福井県 山梨県 長野県 岐阜県 静岡県 愛知県 三重県 滋賀県 京都府 大阪府 兵庫県 奈良県 和歌山県 鳥取県 島根県 岡山県 広島県 "
        "山口県 徳島県 香川県 愛媛県 高知県 福岡県 佐賀県 長崎県 熊本県 大分県 宮崎県 鹿児島県 沖縄県".split(),
        strict=True,
    )
)

# Names of the countries customers are in, for pages (the code is what is stored and sent to Stripe).
COUNTRY_NAMES = {"JP": _("Japan"), "US": _("United States")}

POSTAL_CODE_RE = re.compile(r"^〒?\s*(\d{3})-?(\d{4})$")


def normalize_postal_code(value: str) -> str | None:
    """'１２３－４５６７', '〒1234567', '123-4567' → '123-4567'; '' → ''; anything else → None (not a postal code)."""
    value = normalize_digits(value or "")
    if not value:
        return ""
    match = POSTAL_CODE_RE.match(value)
    return f"{match.group(1)}-{match.group(2)}" if match else None


def prefecture_label(code: str) -> str:
    return str(dict(PREFECTURE_CHOICES).get(code, ""))


def split_address(address: str) -> tuple[str, str, str]:
    """An address typed as one line → (postal code, prefecture code, the rest), for what starts with 〒 and/or a
    prefecture's Japanese name; otherwise ("", "", address)."""
    rest = (address or "").strip()
    postal = ""
    match = re.match(r"^〒?\s*([0-9０-９]{3}[-－ー−‐]?[0-9０-９]{4})(?![0-9０-９])[\s　,、]*", rest)
    if match:
        postal, rest = normalize_postal_code(match.group(1)) or "", rest[match.end() :]
    prefecture = ""
    for code, name in PREFECTURE_NAMES_JA.items():
        if rest.startswith(name):
            prefecture, rest = code, rest[len(name) :].lstrip(" 　")
            break
    return postal, prefecture, rest.strip()


_JAPANESE_SCRIPT = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff66-\uff9f]")


def format_address(
    *, postal_code: str = "", prefecture: str = "", address: str = "", language: str | None = None
) -> str:
    """The whole address, in Japanese order when the address is written in Japanese, in English order when it is in
    Latin letters; `language` forces one (without an address: the current language)."""
    if language is None:
        language = (
            ("ja" if _JAPANESE_SCRIPT.search(address) else "en")
            if address.strip()
            else (get_language() or "en")
        )
    if language.startswith("ja"):
        head = f"〒{postal_code}" if postal_code else ""
        body = f"{PREFECTURE_NAMES_JA.get(prefecture, '')}{address}"
        return " ".join(part for part in (head, body) if part)
    from django.utils import translation

    with translation.override(language):
        region = " ".join(part for part in (prefecture_label(prefecture), postal_code) if part)
    return ", ".join(part for part in (address, region) if part)
