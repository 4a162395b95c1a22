"""CSV exports of list endpoints: ``?format=csv`` streams every matching row in constant memory.

A list view that mixes in ``CsvExportMixin`` answers ``?format=csv`` (or ``Accept: text/csv``)
with the same filters as its JSON, unpaginated, as a ``StreamingHttpResponse``: rows come from
``values_list(...).iterator(chunk_size=...)`` (a server-side cursor on PostgreSQL), so no ORM
object is built per row and memory stays flat however many rows match (1,000,000 ledger rows
export like 1,000). The columns are the JSON fields, nested values flattened, in the same order.

Errors stay JSON: a bad filter is the usual 400 before the first byte is streamed.

Text cells that a spreadsheet would run as a formula (starting with ``= + - @``, tab or CR) get a
leading ``'`` (OWASP's CSV injection advice); numbers and datetimes are written as they are.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Expression, QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter

from config.renderers import ErrorsStayJson, FileRenderer

CSV_MEDIA_TYPE = "text/csv"
# Rows fetched from the database per round trip, and rows written per chunk sent to the client.
CHUNK_ROWS = 2000
WRITE_ROWS = 500
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class CsvColumn:
    """One CSV column: its header (the JSON field name) and what ``values_list`` reads for it."""

    name: str
    source: str | Expression
    kind: str = "text"  # "text", "number" (written as is) or "datetime" (ISO 8601, UTC as "Z")


def text_cell(value: str | None) -> str:
    if not value:
        return ""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def datetime_cell(value: dt.datetime | None, zone: dt.tzinfo | None = None) -> str:
    """As DRF renders a datetime in JSON: ISO 8601 in the current zone, ``Z`` for UTC."""
    if value is None:
        return ""
    text = value.astimezone(zone or timezone.get_current_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _cells(columns: Sequence[CsvColumn]) -> list[tuple[int, Callable[[Any], str]]]:
    """The formatter of each column that needs one; numbers go to the writer as they are."""
    # Looked up once per export, not per row: the current zone is a context-local read.
    zone = timezone.get_current_timezone()
    formatters = {"text": text_cell, "datetime": lambda value: datetime_cell(value, zone)}
    return [(index, formatters[column.kind]) for index, column in enumerate(columns) if column.kind in formatters]


def csv_rows(queryset: QuerySet, columns: Sequence[CsvColumn], *, chunk_size: int = CHUNK_ROWS) -> Iterator[str]:
    """The CSV text of ``queryset``: a header row, then one row per record, yielded a few hundred rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([column.name for column in columns])
    cells = _cells(columns)
    rows = queryset.values_list(*(column.source for column in columns)).iterator(chunk_size=chunk_size)
    for written, values in enumerate(rows, 1):
        row = list(values) if cells else values
        for index, cell in cells:
            row[index] = cell(row[index])
        writer.writerow(row)  # None (a number column with no value) is written empty
        if written % WRITE_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_response(queryset: QuerySet, columns: Sequence[CsvColumn], *, filename: str) -> StreamingHttpResponse:
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response = StreamingHttpResponse(csv_rows(queryset, columns), content_type=f"{CSV_MEDIA_TYPE}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}-{stamp}.csv"'
    return response


class CsvRenderer(FileRenderer):
    """Selects the CSV answer (``?format=csv``, ``Accept: text/csv``); CsvExportMixin streams it."""

    media_type = CSV_MEDIA_TYPE
    format = "csv"
    charset = "utf-8"


FORMAT_PARAMETER = OpenApiParameter(
    "format",
    str,
    enum=["json", "csv"],
    description=(
        "`csv`: every matching row (no pagination) streamed as a CSV attachment with a header row; "
        "the columns are the JSON fields. Default `json`."
    ),
)


class CsvExportMixin(ErrorsStayJson):
    """A list view that also answers in CSV; set ``csv_columns`` and ``csv_filename``. Errors stay JSON."""

    csv_columns: Sequence[CsvColumn] = ()
    csv_filename = "export"

    def get_renderers(self):
        return [*super().get_renderers(), CsvRenderer()]

    def wants_csv(self) -> bool:
        renderer = getattr(self.request, "accepted_renderer", None)
        return isinstance(renderer, CsvRenderer)

    def list(self, request, *args, **kwargs):
        if not self.wants_csv():
            return super().list(request, *args, **kwargs)
        # filter_queryset validates the filters (a bad one raises the usual 400) before anything streams.
        queryset = self.filter_queryset(self.get_queryset())
        return csv_response(queryset, self.csv_columns, filename=self.csv_filename)
