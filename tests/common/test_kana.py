import pytest

from billing_portal.common.kana import bank_kana_invalid, bank_name_key, to_bank_kana


@pytest.mark.parametrize(
    ("typed", "bank_form"),
    [
        ("カ）アクメ", "ｶ)ｱｸﾒ"),  # full-width katakana and parenthesis
        ("ｶ)ｱｸﾒ", "ｶ)ｱｸﾒ"),  # already the bank's form
        ("かぶしきがいしゃ　あくめ", "ｶﾌﾞｼｷｶﾞｲｼﾔ ｱｸﾒ"),  # hiragana, ideographic space
        ("キャノン", "ｷﾔﾉﾝ"),  # banks print no small kana
        ("パピプ ヴァ", "ﾊﾟﾋﾟﾌﾟ ｳﾞｱ"),
        ("ａｃｍｅ　ｉｎｃ．", "ACME INC."),  # full-width Latin, upper-cased
        ("  ｶ)  ｱｸﾒ  ", "ｶ) ｱｸﾒ"),
    ],
)
def test_to_bank_kana(typed, bank_form):
    assert to_bank_kana(typed) == bank_form
    assert bank_kana_invalid(to_bank_kana(typed)) == ""


def test_kanji_cannot_be_printed_by_a_bank():
    assert bank_kana_invalid(to_bank_kana("株式会社アクメ株")) == "株式会社"  # each character once


@pytest.mark.parametrize("name", ["ｶ)ｱｸﾒ", "ｱｸﾒ(ｶ", "カ）アクメ", "ｶﾌﾞｼｷｶﾞｲｼﾔ ｱｸﾒ", "ｱｸﾒ", "(ｶ) ｱｸﾒ"])
def test_name_key_ignores_legal_entity_marks(name):
    assert bank_name_key(name) == "ｱｸﾒ"


def test_name_key_keeps_kana_that_only_look_like_marks():
    assert bank_name_key("ｶﾒﾗ ｼﾖｳｼﾞ") == "ｶﾒﾗｼﾖｳｼﾞ"  # ｶ starting a word is not 株式会社 without its parenthesis
