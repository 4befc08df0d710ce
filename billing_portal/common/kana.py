"""Payer names as Japanese banks print them (振込名義): half-width katakana, upper-case Latin letters, digits and a
few symbols, no small kana (the Zengin character set).

`to_bank_kana` turns what people type (full-width or half-width katakana, hiragana, full-width letters and digits)
into that form; `bank_name_key` is the comparison key used to match a statement's payer name to a tenant's.
Kanji cannot be converted (a name has no one reading): callers reject what `bank_kana_invalid` reports.
"""

import re
import unicodedata

_FULL = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲン"
_HALF = "ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜｦﾝ"
_VOICED = "ガギグゲゴザジズゼゾダヂヅデドバビブベボ"
_VOICED_BASE = "カキクケコサシスセソタチツテトハヒフヘホ"
_SEMI = "パピプペポ"
_SEMI_BASE = "ハヒフヘホ"
_SMALL = {
    "ァ": "ア",
    "ィ": "イ",
    "ゥ": "ウ",
    "ェ": "エ",
    "ォ": "オ",
    "ッ": "ツ",
    "ャ": "ヤ",
    "ュ": "ユ",
    "ョ": "ヨ",
    "ヮ": "ワ",
    "ヵ": "カ",
    "ヶ": "ケ",
}

_TO_HALF = dict(zip(_FULL, _HALF, strict=True))
_TO_HALF.update({v: _TO_HALF[b] + "ﾞ" for v, b in zip(_VOICED, _VOICED_BASE, strict=True)})
_TO_HALF.update({p: _TO_HALF[b] + "ﾟ" for p, b in zip(_SEMI, _SEMI_BASE, strict=True)})
_TO_HALF.update(
    {
        "ヴ": "ｳﾞ",
        "ー": "ｰ",
        "・": ".",
        "、": ",",
        "。": ".",
        "「": "｢",
        "」": "｣",
        "゛": "ﾞ",
        "゜": "ﾟ",
        "‐": "-",
        "－": "-",
        "—": "-",
        "−": "-",
    }
)

# What a bank statement may contain (Zengin): half-width katakana, A–Z, 0–9, space and \ , . ｢ ｣ ( ) - /
_ALLOWED = re.compile(r"[\uFF66-\uFF9FA-Z0-9 \\,.｢｣()\-/]*")
MAX_LENGTH = 48

# Legal-entity abbreviations banks print around a company name: ｶ) 株式会社 (prefix) / (ｶ (suffix), ﾕ 有限会社,
# ﾄﾞ 合同会社, ﾒ 合名会社, ｼ 合資会社, ｲ 医療法人, ｻﾞｲ 財団法人, ｼﾔ 社団法人, ｶﾞｸ 学校法人, ﾄｸﾋ 特定非営利活動法人.
_ENTITIES = "ｶ|ﾕ|ﾄﾞ|ﾒ|ｼ|ｲ|ｻﾞｲ|ｼﾔ|ｶﾞｸ|ﾄｸﾋ|ｲﾂﾊﾟﾝｼﾔﾀﾞﾝ|ｲﾂﾊﾟﾝｻﾞｲﾀﾞﾝ"
_ENTITY_MARK = re.compile(rf"(?:^|(?<=[\s(]))(?:{_ENTITIES})\)|\((?:{_ENTITIES})(?=$|[\s)])")


def to_bank_kana(text: str) -> str:
    """ "株式会社" stays kanji (see `bank_kana_invalid`); "かぶしきがいしゃ　あくめ" → "ｶﾌﾞｼｷｶﾞｲｼﾔ ｱｸﾒ",
    "ｶ)ｱｸﾒ" and "カ）アクメ" → "ｶ)ｱｸﾒ", "ａｂｃ" → "ABC"."""
    text = unicodedata.normalize("NFKC", text or "")  # half-width kana → full-width, full-width ASCII → ASCII
    out = []
    for ch in text:
        if "ぁ" <= ch <= "ゖ":  # hiragana → katakana
            ch = chr(ord(ch) + 0x60)
        ch = _SMALL.get(ch, ch)
        out.append(_TO_HALF.get(ch, ch))
    return re.sub(r"\s+", " ", "".join(out)).strip().upper()


def bank_kana_invalid(name: str) -> str:
    """The characters of a converted name a bank cannot print ("" when it is fine)."""
    bad = "".join(dict.fromkeys(ch for ch in name if not _ALLOWED.fullmatch(ch)))
    return bad


_ENTITY_WORDS = re.compile("ｶﾌﾞｼｷｶﾞｲｼﾔ|ﾕｳｹﾞﾝｶﾞｲｼﾔ|ｺﾞｳﾄﾞｳｶﾞｲｼﾔ|ｺﾞｳﾒｲｶﾞｲｼﾔ|ｺﾞｳｼｶﾞｲｼﾔ")


def bank_name_key(text: str) -> str:
    """Comparison key of a payer name: bank form without legal-entity marks (abbreviated or spelt out), spaces
    and punctuation."""
    name = _ENTITY_WORDS.sub(" ", _ENTITY_MARK.sub(" ", to_bank_kana(text)))
    return re.sub(r"[\s\\,.｢｣()\-/ｰ]", "", name)
