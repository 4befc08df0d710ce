"""What people type with a Japanese keyboard (full-width digits, letters, dashes, 〒) is read as its ASCII form;
Japanese addresses are written 〒100-0005 東京都… in Japanese and in English order in English."""

import pytest
from django.utils import translation

from billing_portal.common.addresses import (
    PREFECTURE_CHOICES,
    PREFECTURE_NAMES_JA,
    format_address,
    normalize_postal_code,
    split_address,
)
from billing_portal.common.forms import TypedCharField, TypedDecimalField, TypedIntegerField
from billing_portal.common.text import normalize_digits, normalize_typed


def test_nfkc_folds_full_width_and_keeps_japanese():
    assert normalize_typed("　ＡＢＣＤ－１２３４　") == "ABCD-1234"
    assert normalize_typed("株式会社テスト") == "株式会社テスト"
    assert normalize_typed("ｶﾌﾞｼｷｶﾞｲｼｬ") == "カブシキガイシャ"  # half-width katakana become full-width
    assert normalize_digits("０３ー１２３４－５６７８") == "03-1234-5678"
    assert normalize_typed(None) is None


@pytest.mark.parametrize(
    "typed", ["100-0005", "1000005", "〒100-0005", "〒１００－０００５", "１００ー０００５", " 100-0005 "]
)
def test_postal_codes_in_any_width(typed):
    assert normalize_postal_code(typed) == "100-0005"


@pytest.mark.parametrize("typed", ["100-000", "12-345678", "abc-defg", "100-00055"])
def test_not_postal_codes(typed):
    assert normalize_postal_code(typed) is None


def test_47_prefectures_in_jis_order():
    assert len(PREFECTURE_CHOICES) == 47 and len(PREFECTURE_NAMES_JA) == 47
    assert PREFECTURE_CHOICES[0][0] == "01" and PREFECTURE_NAMES_JA["01"] == "北海道"
    assert PREFECTURE_NAMES_JA["13"] == "東京都" and PREFECTURE_NAMES_JA["47"] == "沖縄県"
    with translation.override("ja"):
        assert [str(label) for code, label in PREFECTURE_CHOICES] == list(PREFECTURE_NAMES_JA.values())
    with translation.override("en"):
        assert str(dict(PREFECTURE_CHOICES)["26"]) == "Kyoto"


def test_addresses_split_from_one_line():
    assert split_address("〒１００－０００５ 東京都千代田区丸の内1-2-3") == (
        "100-0005",
        "13",
        "千代田区丸の内1-2-3",
    )
    assert split_address("530-0001　大阪府大阪市北区梅田1-1") == ("530-0001", "27", "大阪市北区梅田1-1")
    assert split_address("京都府京都市") == ("", "26", "京都市")
    assert split_address("1-1 Chiyoda, Tokyo") == ("", "", "1-1 Chiyoda, Tokyo")


def test_addresses_written_in_their_own_order():
    parts = {"postal_code": "100-0005", "prefecture": "13"}
    for language in (
        "ja",
        "en",
    ):  # an address in Japanese reads 〒… on English pages too, and the other way round
        with translation.override(language):
            assert (
                format_address(**parts, address="千代田区丸の内1-2-3")
                == "〒100-0005 東京都千代田区丸の内1-2-3"
            )
            assert format_address(**parts, address="1-2-3 Marunouchi, Chiyoda-ku") == (
                "1-2-3 Marunouchi, Chiyoda-ku, Tokyo 100-0005"
            )
    with translation.override("ja"):
        assert format_address(**parts) == "〒100-0005 東京都"  # no street: the page's language
    with translation.override("en"):
        assert format_address(**parts) == "Tokyo 100-0005"
    assert format_address(address="5 Main St, Springfield") == "5 Main St, Springfield"
    assert (
        format_address(**parts, address="1-2-3 Marunouchi", language="ja")
        == "〒100-0005 東京都1-2-3 Marunouchi"
    )
    assert format_address() == ""


def test_typed_form_fields():
    assert TypedIntegerField().clean("１２，０００") == 12000
    assert TypedIntegerField().clean("12,000") == 12000
    assert str(TypedDecimalField().clean("１２．５")) == "12.5"
    assert TypedCharField().clean("ＷＥＬＣＯＭＥ") == "WELCOME"
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        TypedIntegerField().clean("１２円")
