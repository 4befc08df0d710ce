"""Streamed CSV downloads in constant memory: a header, then rows from any iterator (a server-side cursor, a
paged query), written a chunk at a time into a StreamingHttpResponse. UTF-8 with a BOM, so spreadsheet apps read
Japanese text; a cell a spreadsheet would run as a formula is quoted (CSV injection)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse

BOM = "\ufeff"
ROWS_PER_CHUNK = 500
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """A file whose write() hands the formatted line back (csv.writer needs a file)."""

    def write(self, value):
        return value


def safe_cell(value):
    """A cell as CSV text: "" for None; text starting like a formula gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in _FORMULA_START:
        return "'" + value
    return value


def csv_chunks(header: Iterable, rows: Iterable[Iterable]) -> Iterator[str]:
    """The BOM and header, then the rows, ROWS_PER_CHUNK lines per chunk (fewer, larger writes to the client)."""
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    yield BOM + writer.writerow([str(cell) for cell in header])
    chunk = []
    for row in rows:
        chunk.append(writer.writerow([safe_cell(cell) for cell in row]))
        if len(chunk) >= ROWS_PER_CHUNK:
            yield "".join(chunk)
            chunk = []
    if chunk:
        yield "".join(chunk)


def csv_response(header: Iterable, rows: Iterable[Iterable], *, filename: str) -> StreamingHttpResponse:
    """A streamed CSV attachment; `rows` is consumed while the response is sent, never held in memory."""
    response = StreamingHttpResponse(csv_chunks(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
