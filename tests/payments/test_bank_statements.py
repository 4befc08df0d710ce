"""Reading statement CSVs: encodings, header or not, full-width input, bad rows reported (no database)."""

from datetime import date

import pytest
from django.utils import translation

from payments.invoicing.bank_statements import StatementUnreadable, parse_statement


@pytest.fixture(autouse=True)
def _english():
    """The reasons are written in the active language (the uploader's); these tests read them in English."""
    with translation.override("en"):
        yield


SAMPLE = (
    '取引日,入金額,振込依頼人名,参照番号\n2026-12-25,"30,800",1234565 ｶ)ｱｸﾒ,\n2026/12/28,２７５００,ﾍﾞｰﾀ(ｶ,\n'
)


def test_utf8_with_header():
    parsed = parse_statement(SAMPLE.encode())
    assert parsed.encoding == "utf-8" and parsed.has_header and parsed.errors == []
    assert [(r.row, r.booked_on, r.amount, r.payer_name) for r in parsed.rows] == [
        (2, date(2026, 12, 25), 30800, "1234565 ｶ)ｱｸﾒ"),
        (3, date(2026, 12, 28), 27500, "ﾍﾞｰﾀ(ｶ"),
    ]


def test_shift_jis_as_japanese_banks_export_it():
    parsed = parse_statement(SAMPLE.encode("cp932"))
    assert parsed.encoding == "shift_jis"
    assert [r.amount for r in parsed.rows] == [30800, 27500]
    assert parsed.rows[1].payer_name == "ﾍﾞｰﾀ(ｶ"


def test_utf8_bom_and_crlf():
    parsed = parse_statement(("\ufeff" + SAMPLE).replace("\n", "\r\n").encode())
    assert parsed.has_header and len(parsed.rows) == 2


def test_without_header_columns_in_order():
    parsed = parse_statement("20261225,30800,ｶ)ｱｸﾒ,1234565\n2026年12月26日,1100円,ｶﾌﾞｼｷｶﾞｲｼﾔ ﾍﾞｰﾀ\n".encode())
    assert not parsed.has_header and parsed.errors == []
    assert parsed.rows[0].reference == "1234565" and parsed.rows[0].booked_on == date(2026, 12, 25)
    assert (parsed.rows[1].booked_on, parsed.rows[1].amount, parsed.rows[1].reference) == (
        date(2026, 12, 26),
        1100,
        "",
    )


def test_without_header_quoted_amounts_and_full_width_everything():
    data = '２０２６／１２／２５,"３０，８００",カ）アクメ\nR8.12.26,550円,あくめ\n'.encode()
    parsed = parse_statement(data)
    assert not parsed.has_header and parsed.errors == []
    assert [(r.booked_on, r.amount, r.payer_name) for r in parsed.rows] == [
        (date(2026, 12, 25), 30800, "ｶ)ｱｸﾒ"),
        (date(2026, 12, 26), 550, "ｱｸﾒ"),
    ]


def test_header_names_in_english_and_extra_columns_ignored():
    data = b"balance,date,payer_name,amount,withdrawal\n900000,2026-12-25,ACME INC.,30800,\n"
    parsed = parse_statement(data)
    assert parsed.has_header and parsed.rows[0].amount == 30800 and parsed.rows[0].payer_name == "ACME INC."


def test_bad_rows_are_reported_and_the_others_imported():
    data = (
        "取引日,入金額,振込依頼人名\n"
        "2026-12-25,30800,ｶ)ｱｸﾒ\n"
        "2026-13-01,100,ﾍﾞｰﾀ\n"  # no 13th month
        "yesterday,100,ﾍﾞｰﾀ\n"
        "2026-12-26,,ﾍﾞｰﾀ\n"  # a withdrawal row: no deposit
        "2026-12-26,-500,ﾍﾞｰﾀ\n"
        "2026-12-26,12.5,ﾍﾞｰﾀ\n"
        "2026-12-26,100,\n"
        "2026-12-27\n"
        "2026-12-28,27500,ﾍﾞｰﾀ\n"
    ).encode()
    parsed = parse_statement(data)
    assert [r.row for r in parsed.rows] == [2, 10]
    assert [row for row, _reason in parsed.errors] == [3, 4, 5, 6, 7, 8, 9]
    reasons = dict(parsed.errors)
    assert "not a date" in reasons[3] and "not a date" in reasons[4]
    assert reasons[5] == "no deposit amount" and "whole yen" in reasons[6] and "whole yen" in reasons[7]
    assert reasons[8] == "no payer name" and "fewer than 3 columns" in reasons[9]


def test_header_without_an_amount_column_is_refused():
    with pytest.raises(StatementUnreadable, match="amount"):
        parse_statement("取引日,振込依頼人名\n2026-12-25,ｱｸﾒ\n".encode())


def test_not_text_is_refused():
    with pytest.raises(StatementUnreadable, match="neither UTF-8 nor Shift_JIS"):
        parse_statement(b"\x81\x00\xff\xfe\x80\x80")
    with pytest.raises(StatementUnreadable, match="no deposit rows"):
        parse_statement(b"\n\n")


def test_identical_rows_get_their_own_keys_and_a_repeat_file_the_same_ones():
    data = "2026-12-25,1000,ｱｸﾒ\n2026-12-25,1000,ｱｸﾒ\n2026-12-25,1000,ﾍﾞｰﾀ\n".encode()
    first = parse_statement(data)
    assert [r.sequence for r in first.rows] == [1, 2, 1]
    assert len({r.key for r in first.rows}) == 3
    # An overlapping statement (same rows, then more) repeats the first keys.
    again = parse_statement(data + "2026-12-26,1000,ｱｸﾒ\n".encode())
    assert [r.key for r in again.rows[:3]] == [r.key for r in first.rows]


def test_the_documented_sample_reads_as_the_docs_say():
    from pathlib import Path

    data = (Path(__file__).resolve().parents[2] / "docs" / "sample-bank-statement.csv").read_bytes()
    parsed = parse_statement(data)
    assert parsed.has_header and [r.amount for r in parsed.rows] == [30800, 27500, 54340]
    assert parsed.errors == [(5, "no deposit amount")]
    parsed_sjis = parse_statement(data.decode().encode("cp932"))
    assert [r.payer_name for r in parsed_sjis.rows] == [r.payer_name for r in parsed.rows]


def test_the_reasons_are_in_japanese_for_a_japanese_uploader():
    with translation.override("ja"):
        parsed = parse_statement("2026-12-25,,ｱｸﾒ\n2026-12-25,1000,ｱｸﾒ\n".encode())
    assert parsed.errors == [(1, "入金額がありません")]
