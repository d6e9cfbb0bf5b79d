"""CSV cells a spreadsheet will not execute: every CSV the server writes goes through `safe_writer`.

Excel, LibreOffice and Google Sheets evaluate a cell whose text starts with = + - @ (or a tab/CR before one, or
their full-width forms) as a formula, so `=HYPERLINK(...)` in a username or label name would run on the reviewer's
machine. Such text cells get a leading apostrophe, which the spreadsheet shows as plain text. Numbers stay numbers.
"""
from __future__ import annotations

import csv
from typing import Any, Iterable

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def safe_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return value
    text = str(value)
    # Leading spaces do not stop a formula in every spreadsheet: look past them.
    return "'" + text if text.lstrip(" ").startswith(FORMULA_START) else text


class _SafeWriter:
    def __init__(self, fh, **kwargs):
        self._writer = csv.writer(fh, **kwargs)

    def writerow(self, row: Iterable[Any]):
        return self._writer.writerow([safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]):
        for row in rows:
            self.writerow(row)


def safe_writer(fh, **kwargs) -> _SafeWriter:
    """`csv.writer` with every cell passed through `safe_cell`."""
    return _SafeWriter(fh, **kwargs)
