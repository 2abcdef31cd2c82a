"""A small engine for the CSV exports of KSON's own registers (a few hundred to a few thousand
rows): contract follow-up, action plans, health-care volumes.

Such a file is UTF-8 without BOM, LF line ends, comma-separated with RFC 4180 quoting and an
exact header. :func:`read_fields` splits it with Python's ``csv`` module, which keeps exact
line numbers (quoted values may hold commas), into a frame of text cells (empty cells null)
with the column ``source_line``. The rules are then polars expressions over the whole frame:
:func:`flag` reports one error per row where an expression is true, as ``line 7, column
assessment``, through an :class:`~ingest.validation.ErrorCollector` (which lists at most
``MAX_ERRORS_PER_RULE`` per rule, then a count). No error ever carries a cell's value.

:func:`scan_personnummer` checks every field of every line of any CSV file (these and the
visit logs) for personal identity numbers, whatever its structure or encoding.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Container, Iterable, Iterator, Sequence
from pathlib import Path

import polars as pl

from ingest import reference
from ingest.pii import (
    RULE_PERSONNUMMER,
    RULE_WITHOUT_ZERO,
    SEPARATORS,
    contains_personnummer,
    is_personnummer_without_leading_zero,
)
from ingest.validation import FORMULA_EXPECTED, FORMULA_RULE, FORMULA_START, Bound, ErrorCollector

LINE = "source_line"
"""The column holding each row's line in the file (kept in the raw tables)."""

EXPECTED_PII = "no personal identity numbers (the register holds no personal data)"

# A line that may hold a personal identity number: a run of 9 digits (10 or 12 without a
# separator, or a number whose leading zero was dropped), or a date whose month starts with 0
# or 1 (never an organisation number) and 4 digits behind a separator. Rust regex (polars).
_CANDIDATE_LINE = rf"[0-9]{{9}}|[0-9]{{2}}[01][0-9]{{3}}[{SEPARATORS}][0-9]{{4}}"
_CP1252_DASHES = bytes.maketrans(b"\x96\x97", b"--")  # en and em dash in cp1252
_BLOCK = 1 << 24

YEAR = r"^[0-9]{4}$"
DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
INT32_MAX = 2**31 - 1


# --------------------------------------------------------------------------------------------
# The file
# --------------------------------------------------------------------------------------------
def header_starts(path: Path, prefix: bytes) -> bool:
    """Whether ``path`` is a ``.csv`` file whose first bytes (after a BOM) are ``prefix``."""
    path = Path(path)
    if path.suffix.lower() != ".csv" or not path.is_file():
        return False
    with path.open("rb") as handle:
        return handle.read(len(prefix) + 3).removeprefix(b"\xef\xbb\xbf").startswith(prefix)


def file_name_year(path: Path, stem: str, errors: ErrorCollector) -> int | None:
    """The year of a file named ``<stem>_<YYYY>.csv``, or ``None`` (and an error) when the
    name does not match."""
    match = re.fullmatch(rf"{re.escape(stem)}_(\d{{4}})\.csv", Path(path).name)
    if match is None:
        errors.add(
            "file name",
            f"file name does not match {stem}_<YYYY>.csv",
            f"{stem}_<YYYY>.csv, e.g. {stem}_2023.csv",
        )
        return None
    return int(match.group(1))


def header_difference(first: str, columns: Sequence[str]) -> str:
    """How a comma-separated header line differs from ``columns``."""
    got = first.split(",")
    if len(got) != len(columns):
        return f"{len(got)} columns instead of {len(columns)}"
    return "column names or order differ"


def read_fields(path: Path, columns: Sequence[str], errors: ErrorCollector) -> pl.DataFrame | None:
    """The file's rows as text (empty cells as null) with their line numbers in ``LINE``, or
    ``None`` when the file cannot be split into the contract's columns (the errors say why).
    The header must be exactly ``columns``; blank lines are skipped."""
    header = ",".join(columns)
    expected = f"{header} (UTF-8 without BOM, LF line ends)"
    data = Path(path).read_bytes()
    if not data:
        errors.add("line 1", "the file is empty", expected)
        return None
    if data.startswith(b"\xef\xbb\xbf"):
        errors.add("line 1", "the file starts with a byte order mark", expected)
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        errors.add(f"line {line}", "the file is not UTF-8", expected)
        return None
    first = text.split("\n", 1)[0]
    crlf = text.find("\r\n")
    if crlf >= 0:
        errors.add(
            f"line {text.count(chr(10), 0, crlf) + 1}", "line ends are CR LF, not LF", expected
        )
        return None
    if first != header:
        detail = header_difference(first, columns)
        errors.add("line 1", f"header is not the {len(columns)} columns ({detail})", header)
        return None

    rows: list[list[str]] = []
    lines: list[int] = []
    unreadable = 0
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    next(reader)
    start = reader.line_num + 1
    try:
        for fields in reader:
            if fields:  # blank lines are skipped
                if len(fields) == len(columns):
                    rows.append(fields)
                    lines.append(start)
                else:
                    unreadable += 1
                    errors.add(
                        f"line {start}",
                        f"the line has {len(fields)} fields instead of {len(columns)}",
                        f"{len(columns)} comma-separated fields: {header}",
                    )
            start = reader.line_num + 1
    except csv.Error as error:
        unreadable += 1
        limit = csv.field_size_limit()
        if "field larger than field limit" in str(error):  # csv's own text, never the value's
            errors.add(
                f"line {start}",
                f"a value longer than {limit} characters",
                f"values of at most {limit} characters",
            )
        else:
            errors.add(
                f"line {start}",
                "not valid CSV (a quote character inside a value or a quote never closed)",
                'RFC 4180 CSV: a value holding a comma or quote is enclosed in "…"',
            )
    if unreadable:
        return None
    frame = pl.DataFrame(rows, schema=dict.fromkeys(columns, pl.String), orient="row")
    empty_as_null = [
        pl.when(pl.col(c).str.strip_chars() == "").then(None).otherwise(pl.col(c)).alias(c)
        for c in columns
    ]
    return frame.with_columns(empty_as_null).with_columns(pl.Series(LINE, lines, pl.Int32))


# --------------------------------------------------------------------------------------------
# Errors and expressions
# --------------------------------------------------------------------------------------------
def flag(
    frame: pl.DataFrame,
    broken: pl.Expr,
    column: str,
    rule: str | pl.Expr,
    expected: str | None,
    errors: ErrorCollector,
) -> None:
    """One error per row where ``broken`` is true (null counts as not broken), in line order.
    ``rule`` may be an expression giving a per-row text (for example naming an earlier line)."""
    text = rule if isinstance(rule, pl.Expr) else pl.lit(rule)
    hits = (
        frame.select(LINE, text.alias("rule"), broken.fill_null(False).alias("hit"))
        .filter("hit")
        .sort(LINE)
    )
    for line, message, _ in hits.iter_rows():
        errors.add(f"line {line}, column {column}", message, expected)


def as_date(column: str) -> pl.Expr:
    """The text column ``YYYY-MM-DD`` as a date (null when it is not a valid date)."""
    return pl.col(column).str.to_date("%Y-%m-%d", strict=False).alias(column)


def one_of(values: Iterable[str]) -> pl.Expr:
    """A set of strings for ``is_in`` (typed, so that an empty set works too)."""
    return pl.lit(pl.Series(sorted(values), dtype=pl.String)).implode()


def first_line(keys: Sequence[str]) -> pl.Expr:
    """The line of the first row with the same ``keys``."""
    return pl.col(LINE).min().over(list(keys))


# --------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------
def check_formula(frame: pl.DataFrame, columns: Sequence[str], errors: ErrorCollector) -> None:
    """Text cells (not a number) that a spreadsheet would run as a formula."""
    for column in columns:
        value = pl.col(column).str.strip_chars()
        formula = value.str.contains(FORMULA_START) & value.cast(pl.Float64, strict=False).is_null()
        flag(frame, formula, column, FORMULA_RULE, FORMULA_EXPECTED, errors)


def check_required(frame: pl.DataFrame, columns: Sequence[str], errors: ErrorCollector) -> None:
    """An ``empty value`` error for every empty cell of ``columns``."""
    for column in columns:
        flag(frame, pl.col(column).is_null(), column, "empty value", "a value", errors)


def check_in(
    frame: pl.DataFrame, column: str, allowed: Sequence[str], rule: str, errors: ErrorCollector
) -> None:
    """Non-empty cells of ``column`` that are not one of ``allowed``."""
    flag(frame, ~pl.col(column).is_in(list(allowed)), column, rule, ", ".join(allowed), errors)


def check_org_nr(
    frame: pl.DataFrame, errors: ErrorCollector, column: str = "provider_org_nr"
) -> None:
    """Valid (format, third digit ≥ 2, Luhn by python-stdnum on the distinct values), then
    known in ``providers.csv``."""
    values = frame[column].drop_nulls().unique().to_list()
    valid = one_of(v for v in values if reference.is_valid_org_nr(v))
    value = pl.col(column)
    flag(
        frame,
        ~value.is_in(valid),
        column,
        f"{column} is not a valid organisation number",
        "NNNNNN-NNNN with a valid check digit and third digit ≥ 2",
        errors,
    )
    flag(
        frame,
        value.is_in(valid) & ~value.is_in(one_of(reference.known_org_nrs())),
        column,
        f"{column} is not in the provider register (providers.csv)",
        "the org nr of a registered provider",
        errors,
    )


def whole_number(column: str, maximum: int = INT32_MAX) -> pl.Expr:
    """Whether the text cell is a whole number from 0 to ``maximum`` (digits only)."""
    value = pl.col(column)
    return value.str.contains(r"^[0-9]{1,18}$") & (
        value.cast(pl.Int64, strict=False) <= maximum
    ).fill_null(False)


def check_whole_number(
    frame: pl.DataFrame,
    column: str,
    errors: ErrorCollector,
    minimum: int = 0,
    maximum: int = INT32_MAX,
    rule: str | None = None,
    expected: str | None = None,
) -> None:
    """Non-empty cells of ``column`` that are not a whole number from ``minimum`` to
    ``maximum`` (digits only: no sign, no decimals, no spaces)."""
    value = pl.col(column)
    fits = whole_number(column, maximum) & (value.cast(pl.Int64, strict=False) >= minimum)
    flag(
        frame,
        value.is_not_null() & ~fits.fill_null(False),
        column,
        rule or f"{column} is not a whole number ≥ {minimum}",
        expected or f"a whole number ≥ {minimum} without sign or decimals",
        errors,
    )


def check_bounded(
    frame: pl.DataFrame, column: str, bound: Bound, errors: ErrorCollector, decimals: int = 0
) -> None:
    """Non-empty cells of ``column`` that are not a number ≥ 0 in digits (with a decimal point
    and at most ``decimals`` decimals; no sign, no spaces), then the numbers outside
    ``bound``."""
    value = pl.col(column)
    if decimals:
        form = value.str.contains(rf"^[0-9]{{1,18}}(\.[0-9]{{1,{decimals}}})?$")
        rule = f"{column} is not a number ≥ 0 with at most {decimals} decimals"
        expected = f"a number ≥ 0 with a decimal point and at most {decimals} decimals"
    else:
        form = value.str.contains(r"^[0-9]{1,18}$")
        rule = f"{column} is not a whole number ≥ 0"
        expected = "a whole number ≥ 0 without sign or decimals"
    flag(frame, value.is_not_null() & ~form, column, rule, expected, errors)
    number = value.cast(pl.Float64, strict=False)
    flag(frame, form & bound.outside(number), column, Bound.RULE, bound.expected, errors)


def check_unique(
    frame: pl.DataFrame,
    keys: Sequence[str],
    column: str,
    rule: str,
    expected: str,
    errors: ErrorCollector,
) -> None:
    """Rows repeating the ``keys`` of an earlier row (rows with an empty key are left to
    :func:`check_required`); ``rule`` holds ``{}`` for the earlier line; reported in
    ``column``."""
    flag(
        frame.filter(pl.all_horizontal(pl.col(list(keys)).is_not_null())),
        pl.col(LINE) != first_line(keys),
        column,
        pl.format(rule, first_line(keys)),
        expected,
        errors,
    )


def check_constant(
    frame: pl.DataFrame, within: str, columns: Sequence[str], label: str, errors: ErrorCollector
) -> None:
    """``columns`` have one value within each ``within`` group: a row is flagged when it
    differs from the group's first row with a value (empty cells are reported elsewhere)."""
    ordered = frame.filter(pl.col(within).is_not_null()).sort(LINE)
    for column in columns:
        value = pl.col(column)
        flag(
            ordered,
            value != value.drop_nulls().first().over(within),
            column,
            pl.format(
                f"{column} differs from line {{}} of the same {label}",
                pl.col(LINE).filter(value.is_not_null()).first().over(within),
            ),
            f"the same {column} on every row of a {label}",
            errors,
        )


# --------------------------------------------------------------------------------------------
# Personal identity numbers in any CSV file
# --------------------------------------------------------------------------------------------
def scan_personnummer(
    path: Path,
    columns: Sequence[str],
    errors: ErrorCollector,
    expected: str = EXPECTED_PII,
    lines: Container[int] | None = None,
) -> bool:
    """Check every field of every line of the file (of ``lines`` only, when given), the header
    too, for personal identity numbers, whatever the file's structure: a field holding one,
    or a field that is one whose leading zero was dropped (none of these contracts has a
    9-digit number). Lines in UTF-8, cp1252 or UTF-16 (with its BOM) are read. The place is
    ``line N, column C`` (``field K`` when the line does not have the contract's fields); a
    quoted value spanning lines is checked line by line. A polars pass over 16 MB blocks finds
    the candidate lines (about 1 s for 10 M visits); only those are split and checked.
    Returns whether the file was scanned: not when it holds a NUL (binary, or UTF-16 without
    BOM: its digits are not found)."""
    number = 1  # the file line of the block's first line
    for block in _blocks(path):
        if b"\x00" in block:
            return False
        text = block.translate(_CP1252_DASHES).decode("utf-8", "replace")
        hits = pl.Series(text.split("\n"), dtype=pl.String).str.contains(_CANDIDATE_LINE)
        found = hits.arg_true().to_list()
        if found:
            raw = block.split(b"\n")
            for i in found:
                if lines is None or number + i in lines:
                    _scan_line(number + i, raw[i], columns, errors, expected)
        number += block.count(b"\n")
    return True


def _blocks(path: Path) -> Iterator[bytes]:
    """The file as UTF-8 (UTF-16 with a BOM converted, other bytes as they are) in blocks of
    whole lines (the last may lack its line end)."""
    with Path(path).open("rb") as handle:
        utf16 = handle.read(2) in (b"\xff\xfe", b"\xfe\xff")
        handle.seek(0)
        if utf16:
            text = io.TextIOWrapper(handle, encoding="utf-16", errors="replace", newline="")
            chunks = (part.encode("utf-8") for part in iter(lambda: text.read(_BLOCK // 4), ""))
        else:
            chunks = iter(lambda: handle.read(_BLOCK), b"")
        rest = b""
        for chunk in chunks:
            block = rest + chunk
            cut = block.rfind(b"\n") + 1
            block, rest = block[:cut], block[cut:]
            if block:
                yield block
        if rest:
            yield rest


def _scan_line(
    number: int, raw: bytes, columns: Sequence[str], errors: ErrorCollector, expected: str
) -> None:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        line = raw.decode("cp1252", "replace")
    line = line.removeprefix("\ufeff").removesuffix("\r")
    try:
        fields = next(csv.reader([line]), [])
    except csv.Error:  # a field over csv's size limit, a CR inside a field
        fields = line.split(",")
    found = False
    for i, value in enumerate(fields):
        column = f"column {columns[i]}" if len(fields) == len(columns) else f"field {i + 1}"
        if contains_personnummer(value):
            errors.add(f"line {number}, {column}", RULE_PERSONNUMMER, expected)
        elif is_personnummer_without_leading_zero(value):
            errors.add(f"line {number}, {column}", RULE_WITHOUT_ZERO, expected)
        else:
            continue
        found = True
    if not found and contains_personnummer(line):  # e.g. split by a quote character
        errors.add(f"line {number}", RULE_PERSONNUMMER, expected)
