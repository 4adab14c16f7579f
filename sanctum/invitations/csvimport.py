"""Reading an invitation list exported from a spreadsheet.

Spreadsheets write CSV in many dialects: a UTF-8 byte-order mark (Excel's "CSV UTF-8"),
semicolons where the decimal comma is taken (most of Europe), tabs, a header row or none.
`decode` turns the upload into text or says plainly why it cannot; `parse` finds the
columns. Both run when the file is uploaded, so a wrong file is a form error at once; the
rows themselves are judged by the import job.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

COLUMNS = ("email", "role", "note")
# What people call the columns in the files they already have.
ALIASES = {
    "email": "email", "e-mail": "email", "email address": "email", "e-mail address": "email", "mail": "email",
    "role": "role", "sanctum role": "role",
    "note": "note", "notes": "note", "comment": "note",
}
DELIMITERS = (",", ";", "\t")


class CsvError(ValueError):
    """The file as a whole cannot be read; the message says what to do about it."""


@dataclass
class CsvRow:
    line: int  # where the row starts in the file, counting the header as line 1
    email: str
    role: str = ""
    note: str = ""
    problem: str = ""  # set when the row's shape is wrong (too many cells)


@dataclass
class ParsedCsv:
    rows: list[CsvRow]
    delimiter: str
    has_header: bool
    notices: list[str] = field(default_factory=list)


def decode(data: bytes) -> str:
    if not data.strip():
        raise CsvError("The file is empty.")
    if data.startswith(b"PK\x03\x04"):
        raise CsvError("This looks like a spreadsheet workbook. Save it as “CSV UTF-8” and upload that.")
    if b"\x00" in data[:65536]:
        raise CsvError("This is not a CSV file: it contains binary data. Upload a list saved as “CSV UTF-8”.")
    try:
        return data.decode("utf-8-sig")  # also drops the byte-order mark Excel writes
    except UnicodeDecodeError as exc:
        raise CsvError(f"The file is not UTF-8 text (byte {exc.start + 1} is not). "
                       "Save it as “CSV UTF-8” and upload it again.") from exc


def sniff_delimiter(text: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def parse(text: str) -> ParsedCsv:
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    records: list[tuple[int, list[str]]] = []
    previous_end = 0
    try:
        for cells in reader:
            start, previous_end = previous_end + 1, reader.line_num
            if any(cell.strip() for cell in cells):
                records.append((start, [cell.strip() for cell in cells]))
    except csv.Error as exc:
        raise CsvError(f"Line {reader.line_num} cannot be read as CSV: {exc}.") from exc
    if not records:
        raise CsvError("The file has no rows.")

    notices: list[str] = []
    first_line, first = records[0]
    names = [ALIASES.get(cell.lower()) for cell in first]
    # A first row without a single address names the columns.
    has_header = not any("@" in cell for cell in first)
    if has_header:
        if "email" not in names:
            raise CsvError("The first row names the columns, but none of them is “email”. "
                           "Name the column of addresses “email”.")
        positions = {name: names.index(name) for name in COLUMNS if name in names}
        ignored = [cell for cell, name in zip(first, names) if name is None and cell]
        if ignored:
            notices.append("Ignored columns: " + ", ".join(ignored) + ".")
        width = len(first)
        body = records[1:]
    else:
        positions = {name: n for n, name in enumerate(COLUMNS)}
        width = len(COLUMNS)
        body = records
        notices.append("The file has no header row: columns are read as email, role, note.")

    rows = []
    for line, cells in body:
        def cell(name: str) -> str:
            index = positions.get(name)
            return cells[index] if index is not None and index < len(cells) else ""

        row = CsvRow(line=line, email=cell("email"), role=cell("role"), note=cell("note"))
        if len(cells) > width and any(cells[width:]):
            row.problem = f"has {len(cells)} cells where {width} are expected"
        rows.append(row)
    if not rows:
        raise CsvError("The file has a header row but no addresses under it.")
    if delimiter != ",":
        notices.append({";": "Columns are separated by semicolons.", "\t": "Columns are separated by tabs."}[delimiter])
    return ParsedCsv(rows=rows, delimiter=delimiter, has_header=has_header, notices=notices)
