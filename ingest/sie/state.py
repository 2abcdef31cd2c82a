"""What the pass over a file's lines has read so far, shared by the parts of the reader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from ingest.sie.schema import at
from ingest.validation import ErrorCollector

# Where a voucher row is, as the loop's state at its line: a voucher's index, or these.
OUTSIDE = -1  # outside any #VER { … } block
SKIPPED = -2  # inside the { … } block of an unknown record, which is skipped
# The voucher rows before they become the transactions table (amounts still text).
ROW_SCHEMA = {
    "voucher": pl.Int64,
    "row_kind": pl.String,
    "account": pl.String,
    "object_list": pl.UInt32,
    "amount": pl.String,
    "transaction_date": pl.String,
    "transaction_text": pl.String,
    "quantity": pl.String,
    "sign": pl.String,
    "source_line": pl.Int32,
}


class LedgerState:
    """The records read (as lists, until :meth:`TablesMixin.build` makes frames of them), the
    errors and the notes."""

    def __init__(self, path: Path, errors: ErrorCollector, notes: list[str], encoding: str) -> None:
        self.path = path
        self.errors = errors
        self.notes = notes
        self.encoding = encoding
        self.head: dict[str, Any] = {}
        self.years: list[tuple[str, str, str, int]] = []
        self.accounts: dict[str, list[Any]] = {}  # account → [name, type, sru]
        self.declared: set[str] = set()
        self.dimensions: dict[int, tuple[str | None, int | None]] = {}
        self.objects: dict[tuple[int, str], str | None] = {}
        self.unknown: dict[str, list[int]] = {}
        self.object_lists: dict[tuple[str, ...], int] = {(): 0}
        self.object_pairs: list[list[tuple[int, str]]] = [[]]
        self.ksumma: dict[str, Any] = {}
        self.missing_objects = 0
        self.twins_skipped = 0
        self.twins_missing: list[int] = []
        self.object_text: list[str] = [""]  # an object list's tokens as #KSUMMA counts them
        self.raw_object_lists: dict[str, int] = {"": 0}  # the text between the braces → index
        self.crc_parts: list[tuple[int, str]] = []  # (line, text) of the records the loop read
        self.crc_windows: list[list[Any]] = []  # [opening line, closing line or None]
        self.bulk_crc = pl.DataFrame(schema={"source_line": pl.Int32, "crc": pl.String})
        # (series, number, date, text, registration date, line)
        self.vouchers: list[tuple[str, str, str | None, str | None, str | None, int]] = []
        # (kind, year, period, account, object list, amount, quantity, line)
        self.balances: list[tuple[Any, ...]] = []
        # the rows the loop read: (voucher, kind, account, object list, amount, date, text,
        # quantity, sign, line), as ROW_SCHEMA; with the bulk rows they become row_frame
        self.rows: list[tuple[Any, ...]] = []
        self.row_frame = pl.DataFrame(schema=ROW_SCHEMA | {"row_number": pl.Int32})
        self.unclosed: list[int] = []  # the #VER lines of blocks never closed
        # per line where personal identity numbers were masked: its original text and how many
        self.masked: dict[int, tuple[str, int]] = {}
        self.line_end = "\n"

    def error(
        self,
        line: int | None,
        rule: str,
        expected: str | None = None,
        *,
        place: str | None = None,
        group: str | None = None,
    ) -> None:
        """An error on ``line`` (or of the file); ``group``: the rule it counts under when
        ``rule`` varies (names an account, a voucher, …)."""
        self.errors.add(place or at(line), rule, expected, line=line, group=group)
