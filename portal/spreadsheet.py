"""CSV and XLSX downloads that a spreadsheet opens safely.

A text cell beginning with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return, which some
programs skip before reading a formula) would be run as a formula when the file is opened:
such cells get a leading apostrophe, so they are shown as the text they are. Numbers stay
numbers. CSV is UTF-8 with a byte-order mark, so spreadsheet programs read Korean correctly.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from django.http import Http404, HttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def neutralise(value):
    """The value as a safe cell: text that a spreadsheet would read as a formula gets a leading quote."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value


def table_response(
    *, fmt: str, filename: str, sheets: Sequence[tuple[str, Sequence[str], Iterable[Sequence]]]
) -> HttpResponse:
    """``sheets`` is ``(title, header, rows)``; CSV carries the first sheet only. Unknown ``fmt``: 404."""
    safe = [(title, [neutralise(h) for h in header], [[neutralise(v) for v in row] for row in rows])
            for title, header, rows in sheets]  # fmt: skip
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        _title, header, rows = safe[0]
        writer.writerow(header)
        writer.writerows(["" if v is None else v for v in row] for row in rows)
        response = HttpResponse("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8")
    elif fmt == "xlsx":
        from openpyxl import Workbook

        book = Workbook()
        book.remove(book.active)
        for title, header, rows in safe:
            sheet = book.create_sheet(title=title[:31])
            sheet.append(header)
            for row in rows:
                sheet.append(row)
        out = io.BytesIO()
        book.save(out)
        response = HttpResponse(out.getvalue(), content_type=XLSX)
    else:
        raise Http404
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
