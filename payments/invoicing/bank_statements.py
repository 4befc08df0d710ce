"""Reading a bank statement CSV (入金明細) into deposit lines — pure parsing, no database.

The layout (docs/bank-transfer.md): one deposit per row, columns

    date, amount, payer name (振込依頼人名)[, reference]

with or without a header row. With a header the columns are found by name (Japanese or English, see
`HEADER_NAMES`) and other columns (出金額, 残高, …) are ignored; without one they are taken in that order.
Encoding: UTF-8 (with or without BOM) or Shift_JIS / CP932, as Japanese online banking exports them.
Full-width digits and letters are normalised (NFKC); payer names are put in the bank's form (half-width
katakana). A row that cannot be read is reported with its row number and reason; it never stops the rest.
"""

import csv
import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from django.utils.translation import gettext

from billing_portal.common.kana import to_bank_kana

HEADER_NAMES = {  # column -> the names a header may give it (first: ours)
    "date": (
        "取引日",
        "日付",
        "入金日",
        "勘定日",
        "起算日",
        "年月日",
        "date",
        "booked_on",
        "transaction_date",
        "value_date",
    ),
    "amount": (
        "入金額",
        "金額",
        "入金金額",
        "お預入れ金額",
        "お預け入れ金額",
        "預入金額",
        "amount",
        "deposit",
        "credit",
    ),
    "payer_name": (
        "振込依頼人名",
        "依頼人名",
        "振込依頼人",
        "振込人名",
        "お取引内容",
        "摘要",
        "payer_name",
        "payer",
        "name",
        "remitter",
        "remitter_name",
        "description",
    ),
    "reference": (
        "参照番号",
        "振込参照番号",
        "お客様番号",
        "振込依頼人コード",
        "依頼人コード",
        "edi情報",
        "reference",
        "ref",
        "customer_reference",
    ),
}
REQUIRED = ("date", "amount", "payer_name")
MAX_ROWS = 20_000
MAX_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class StatementRow:
    row: int  # 1-based row number in the file (the header counts)
    booked_on: date
    amount: int  # yen
    payer_name: str  # bank form (half-width katakana)
    payer_name_raw: str
    reference: str  # digits only, "" when the file has no reference column or it is empty
    sequence: (
        int  # 1 for the first row with these date, amount, name and reference in the file, 2 for the next…
    )

    @property
    def key(self) -> str:
        """What identifies the deposit across uploads (an overlapping statement repeats the same rows)."""
        raw = f"{self.booked_on.isoformat()}|{self.amount}|{self.payer_name}|{self.reference}|{self.sequence}"
        return hashlib.sha256(raw.encode()).hexdigest()


@dataclass
class ParsedStatement:
    rows: list[StatementRow] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (row number, reason); row 0: the whole file
    encoding: str = ""
    has_header: bool = False


class StatementUnreadable(ValueError):
    pass


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding name): UTF-8 if it decodes strictly, else CP932 (Shift_JIS with the vendor extensions)."""
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp932"), "shift_jis"
    except UnicodeDecodeError as exc:
        raise StatementUnreadable(gettext("The file is neither UTF-8 nor Shift_JIS (CP932) text.")) from exc


def _norm(cell: str) -> str:
    return unicodedata.normalize("NFKC", cell or "").strip()


_ERA_REIWA = re.compile(r"^(?:令和|R)(\d{1,2})[./年-](\d{1,2})[./月-](\d{1,2})日?$", re.IGNORECASE)
_YMD = re.compile(r"^(\d{4})[./年-](\d{1,2})[./月-](\d{1,2})日?$")


def parse_date(cell: str) -> date:
    text = _norm(cell).replace(" ", "")
    if match := _YMD.match(text):
        y, m, d = (int(part) for part in match.groups())
    elif re.fullmatch(r"\d{8}", text):
        y, m, d = int(text[:4]), int(text[4:6]), int(text[6:])
    elif match := _ERA_REIWA.match(text):
        y, m, d = (int(part) for part in match.groups())
        y += 2018  # 令和1年 = 2019
    else:
        raise ValueError(
            gettext("“%(cell)s” is not a date (write 2026-12-25, 2026/12/25, 20261225 or 2026年12月25日)")
            % {"cell": cell.strip()}
        )
    try:
        return date(y, m, d)
    except ValueError as exc:
        raise ValueError(gettext("“%(cell)s” is not a date") % {"cell": cell.strip()}) from exc


def parse_amount(cell: str) -> int:
    text = _norm(cell).replace(",", "").replace("¥", "").replace("\\", "").replace("円", "").replace(" ", "")
    if not re.fullmatch(r"\d{1,12}", text):
        raise ValueError(
            gettext("“%(cell)s” is not a deposit amount in whole yen") % {"cell": cell.strip()}
            if text
            else gettext("no deposit amount")
        )
    amount = int(text)
    if amount <= 0:
        raise ValueError(gettext("no deposit amount"))
    return amount


def _header_columns(cells: list[str]) -> dict[str, int] | None:
    """Column index per field when `cells` is a header row, else None (a row starting with a date is data)."""
    try:
        parse_date(cells[0] if cells else "")
        return None
    except ValueError:
        pass
    found = {}
    for index, cell in enumerate(cells):
        name = _norm(cell).lower().replace(" ", "_")
        for column, names in HEADER_NAMES.items():
            if name in names and column not in found:
                found[column] = index
    return found or None


def parse_statement(data: bytes) -> ParsedStatement:
    """Every readable deposit of the file, and the reasons the others could not be read."""
    if len(data) > MAX_BYTES:
        raise StatementUnreadable(
            gettext("The file is larger than %(size)s MB.") % {"size": MAX_BYTES // (1024 * 1024)}
        )
    text, encoding = decode(data)
    result = ParsedStatement(encoding=encoding)
    reader = csv.reader(io.StringIO(text, newline=""))
    columns = {"date": 0, "amount": 1, "payer_name": 2, "reference": 3}
    seen: dict[tuple, int] = {}
    first = True
    try:
        for row_number, cells in enumerate(reader, start=1):
            if row_number > MAX_ROWS:
                result.errors.append(
                    (
                        row_number,
                        gettext("more than %(count)s rows: the rest was not read") % {"count": MAX_ROWS},
                    )
                )
                break
            if not any(_norm(cell) for cell in cells):
                continue
            if first:  # the first row with content: a header when its cells name columns
                first = False
                header = _header_columns(cells)
                if header is not None:
                    missing = [name for name in REQUIRED if name not in header]
                    if missing:
                        raise StatementUnreadable(
                            gettext(
                                "The header row has no column for: %(columns)s (see the layout on this page)."
                            )
                            % {"columns": ", ".join(missing)}
                        )
                    columns, result.has_header = header, True
                    continue
            try:
                row = _row(cells, columns)
            except ValueError as exc:
                result.errors.append((row_number, str(exc)))
                continue
            identity = (row["booked_on"], row["amount"], row["payer_name"], row["reference"])
            seen[identity] = seen.get(identity, 0) + 1
            result.rows.append(StatementRow(row=row_number, sequence=seen[identity], **row))
    except csv.Error as exc:
        result.errors.append(
            (reader.line_num, gettext("the CSV is malformed here (%(error)s)") % {"error": exc})
        )
    if not result.rows and not result.errors:
        raise StatementUnreadable(gettext("The file has no deposit rows."))
    return result


def _row(cells: list[str], columns: dict[str, int]) -> dict:
    def cell(name):
        index = columns.get(name)
        return cells[index] if index is not None and index < len(cells) else ""

    if len(cells) < 3:
        raise ValueError(gettext("fewer than 3 columns (date, amount, payer name)"))
    booked_on = parse_date(cell("date"))
    amount = parse_amount(cell("amount"))
    raw_name = _norm(cell("payer_name"))
    if not raw_name:
        raise ValueError(gettext("no payer name"))
    reference = re.sub(r"\D", "", _norm(cell("reference")))
    return {
        "booked_on": booked_on,
        "amount": amount,
        "payer_name": to_bank_kana(raw_name)[:200],
        "payer_name_raw": raw_name[:200],
        "reference": reference[:20],
    }
