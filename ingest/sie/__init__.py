"""SIE 4 general-ledger files (``*.se``, ``*.si``; "SIE filformat, utgåva 4B") → raw tables.

One file → ``sie_files`` (one row), ``sie_years``, ``sie_accounts``, ``sie_dimensions``,
``sie_objects``, ``sie_balances`` and ``sie_transactions``. See ``docs/contracts/sie.md`` for the
contract: the records read, those ignored, the rules and their error texts, and the encodings.

How it reads, one module per job:

1. ``decoding``: the bytes are decoded once: ``#FORMAT PC8`` → CP437, unless the file is
   valid UTF-8 holding non-ASCII bytes (some programs write UTF-8 and still declare PC8);
   without ``#FORMAT``: UTF-8 when it decodes strictly, else Windows-1252, or CP437 when the
   bytes are Swedish letters in CP437 and not in Windows-1252 (real files without
   ``#FORMAT`` are often PC8).
2. ``masking``: every personal identity number in a line is replaced by ``[personnummer]``
   before the line is read (the file is KSON's own books: masked, not rejected); the
   archive keeps a masked copy of the bytes.
3. ``parser``, ``tokens``, ``rows``, ``checksum``: the voucher rows (``#TRANS``/``#RTRANS``/
   ``#BTRANS``, nearly all of a ledger's lines) are split into their fields in bulk: one
   vectorised polars pass with a regular expression over all lines. A loop walks the other
   lines (header, ``#VER``, braces, balances, and the rare row the bulk pattern does not
   read whole) with a small tokenizer and follows the vouchers' ``{ … }`` blocks; each bulk
   row then takes its voucher from the loop's state at its line. ``#RTRANS`` twins and row
   numbers are window expressions per voucher; ``#KSUMMA`` joins the loop's records and the
   bulk rows in file order.
4. ``tables``, ``ledger``: the column lists become polars frames; amounts, quantities,
   dates, periods and year indexes are checked with vectorised regular expressions *before*
   they are cast (polars would silently round ``1.239`` to ``1.24`` and read ``2023013`` as
   a date), and the ledger rules (vouchers balance, declared accounts, IB + transactions =
   UB) are polars aggregations.

A file is accepted whole or not at all: every error is collected (``ErrorCollector``: a
capped number per rule, then one "N more" line), and a file with errors gets no tables.
Errors name lines and fields, never a text value from the file that was not masked. The
contract's constants are in ``schema``, :func:`summary` in ``summary``.

Read by the loader (``staging``: a folder beside the file's snapshot), an accepted file's two
large tables (transactions, balances) are written there as Parquet and handed over as
:class:`~ingest.validation.SqlScan` s: the loader's process never holds a ledger's rows, and
DuckDB inserts them from the file within its memory limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl

from ingest.sie.decoding import decode
from ingest.sie.masking import masked_copy
from ingest.sie.parser import Parser
from ingest.sie.schema import (
    ACCOUNTS_TABLE,
    AMOUNT_BOUND,
    BALANCES_TABLE,
    DIMENSIONS_TABLE,
    FILES_TABLE,
    OBJECTS_TABLE,
    QUANTITY_BOUND,
    SOURCE,
    TABLE_SCHEMAS,
    TOTAL_BOUND,
    TRANSACTIONS_TABLE,
    YEARS_TABLE,
)
from ingest.sie.summary import summary
from ingest.validation import MAX_ERRORS_PER_RULE, ErrorCollector, ReadResult, SqlScan, sql_literal

__all__ = [
    "ACCOUNTS_TABLE",
    "AMOUNT_BOUND",
    "BALANCES_TABLE",
    "DIMENSIONS_TABLE",
    "FILES_TABLE",
    "MAX_ERRORS_PER_RULE",
    "OBJECTS_TABLE",
    "QUANTITY_BOUND",
    "SOURCE",
    "TABLE_SCHEMAS",
    "TOTAL_BOUND",
    "TRANSACTIONS_TABLE",
    "YEARS_TABLE",
    "SieReadResult",
    "accepts",
    "read",
    "summary",
]

HEAD_LINES = 30  # ``accepts`` looks for #SIETYP this far into the file
STAGED = (TRANSACTIONS_TABLE, BALANCES_TABLE)  # written to the loader's staging folder


@dataclass
class SieReadResult(ReadResult):
    """A :class:`ReadResult` that also keeps the counts :func:`summary` reports (a rejected
    file has no tables to count from)."""

    stats: dict[str, Any] = field(default_factory=dict)


def accepts(path: Path) -> bool:
    """Whether ``path`` looks like an SIE file: its first non-empty line is ``#FLAGGA``, or a
    ``#SIETYP`` record is among its first lines (the extension is not looked at)."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(16 * 1024)
    except OSError:
        return False
    lines = [line.strip() for line in head.removeprefix(b"\xef\xbb\xbf").splitlines()]
    lines = [line for line in lines if line][:HEAD_LINES]
    if not lines:
        return False
    return lines[0].startswith(b"#FLAGGA") or any(line.startswith(b"#SIETYP") for line in lines)


def read(path: Path, staging: Path | None = None) -> ReadResult:
    """Parse and validate one SIE 4 file; its personal identity numbers masked (``masked``:
    ``line 12`` once per number, ``masked_copy``: the bytes the archive keeps). Every text of
    a file that decodes is scanned; one that does not decode is not (``scanned``). With a
    ``staging`` folder, an accepted file's ``STAGED`` tables are Parquet files there."""
    path = Path(path)
    raw = path.read_bytes()
    errors = ErrorCollector(path.name)
    notes: list[str] = []
    if not raw.strip(b" \t\r\n\x1a"):
        errors.add("file", "the file is empty", "an SIE 4 file: #FLAGGA, #SIETYP 4, …")
        return SieReadResult(errors=errors.finish(), notes=notes, scanned=True)
    decoded = decode(raw, errors, notes)
    if decoded is None:
        return SieReadResult(errors=errors.finish(), notes=notes)
    text, encoding, declared = decoded
    del decoded
    parser = Parser(path, errors, notes, encoding)
    parser.parse(text)
    # the records are read: the file's text and bytes go before the tables are built
    del text
    copy = masked_copy(raw, encoding, parser.line_end, parser.masked) if parser.masked else None
    del raw
    tables, stats = parser.build(declared)
    stats["encoding"] = encoding
    result = SieReadResult(errors=errors.finish(), notes=notes, stats=stats, scanned=True)
    if parser.masked:
        result.masked = [
            f"line {line}"
            for line, (_, count) in sorted(parser.masked.items())
            for _ in range(count)
        ]
        result.masked_copy = copy
    if result.ok:
        result.tables = tables if staging is None else _staged(tables, path, Path(staging))
    return result


def _staged(
    tables: dict[str, pl.DataFrame], path: Path, staging: Path
) -> dict[str, pl.DataFrame | SqlScan]:
    """``tables`` with the ``STAGED`` ones written to ``staging`` as Parquet and replaced by
    the scans that load them."""
    staged: dict[str, pl.DataFrame | SqlScan] = dict(tables)
    for name in STAGED:
        frame = tables[name]
        file = staging / f"{path.name}.{name}.parquet"
        frame.write_parquet(file, compression="lz4", statistics=False)
        staged[name] = SqlScan(query=partial(_staged_sql, str(file)), rows=frame.height)
    return staged


def _staged_sql(file: str, _archived: Path) -> str:
    """The ``SELECT`` that loads a table :func:`_staged` wrote (not the archived file)."""
    return f"SELECT * FROM read_parquet({sql_literal(file)})"
