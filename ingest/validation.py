"""What every reader returns: validated tables plus the errors found, and the error report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from ingest.pii import PERSONAL_DATA_RULES


@dataclass(frozen=True)
class ValidationError:
    """One broken rule in one input file.

    ``place`` says where, in the terms of the format: ``line 12``, ``sheet Rapport, row 9,
    column E`` or a JSON path such as ``values[3].values[0].gender``. ``expected`` says what a
    valid value looks like. Never put the offending value itself here when it may be personal
    data. ``personal_data`` marks an error that found personal data in the file: such a file
    is not copied into quarantine (only its report is).
    """

    file: str
    place: str
    rule: str
    expected: str | None = None
    personal_data: bool = False

    def __str__(self) -> str:
        text = f"{printable(self.file)}: {self.place}: {self.rule}"
        return f"{text} (expected: {self.expected})" if self.expected else text


def sql_literal(text: str) -> str:
    """A DuckDB string literal (single quotes doubled), for SQL that takes no parameters
    (``ATTACH``, ``COPY``, ``read_csv`` paths, ``COMMENT ON``)."""
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class SqlScan:
    """A table that DuckDB loads straight from the file, for inputs too large for memory.

    ``query(path)`` gives a self-contained DuckDB ``SELECT`` over the file at ``path``
    (typically ``read_csv(...)`` with explicit column types) whose columns match the raw table;
    the loader runs it on the archived copy of the validated file.
    """

    query: Callable[[Path], str]
    rows: int


@dataclass
class ReadResult:
    """A reader's answer: the raw tables' contents, or the errors that reject the file.

    Each table is a polars frame or, for large files, a :class:`SqlScan`. A file is accepted
    whole or not at all: when ``errors`` is non-empty, ``tables`` must not be loaded.
    """

    tables: dict[str, pl.DataFrame | SqlScan] = field(default_factory=dict)
    errors: list[ValidationError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Whether every text of the file (every sheet, comment, field, record) was checked for
    # personal identity numbers. Only a scanned file without one is copied into quarantine.
    scanned: bool = False
    # SIE only (KSON's own books): where a personal identity number was masked (``line 12``),
    # and the file's bytes with each one masked, which the archive keeps instead.
    masked: list[str] = field(default_factory=list)
    masked_copy: bytes | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def row_count(self) -> int:
        return sum(_rows(table) for table in self.tables.values())

    def rows_per_table(self) -> dict[str, int]:
        return {name: _rows(table) for name, table in self.tables.items()}


def _rows(table: pl.DataFrame | SqlScan) -> int:
    return table.rows if isinstance(table, SqlScan) else table.height


@dataclass(frozen=True)
class Bound:
    """The plausible range of a numeric field, both ends included. Every numeric field of
    every contract has one (its contract lists them in one table): it keeps absurd values
    out and makes sure that whatever a reader accepts fits the marts' types."""

    minimum: int | float
    maximum: int | float
    unit: str  # what is counted, e.g. "hours a unit and month"

    RULE = "number outside the plausible range"

    @property
    def expected(self) -> str:
        """``0 to 100000 hours a unit and month`` (plain digits: no separator to misread)."""
        return f"{_plain(self.minimum)} to {_plain(self.maximum)} {self.unit}"

    def outside(self, value: pl.Expr) -> pl.Expr:
        """Whether ``value`` is outside the range, NaN and infinities included (null stays
        null)."""
        return ~value.is_between(self.minimum, self.maximum)

    def holds(self, value: float | int) -> bool:
        """Whether a Python number is finite and in the range."""
        return self.minimum <= value <= self.maximum  # NaN compares false


def _plain(value: int | float) -> str:
    return f"{value:.2f}".removesuffix(".00") if isinstance(value, float) else str(value)


# In files providers fill in, a text cell (not a valid number) that begins, after trimming,
# with one of these is rejected: a spreadsheet opening an export would run it as a formula.
FORMULA_RULE = "text that begins with =, + or @ (a spreadsheet would run it as a formula)"
FORMULA_EXPECTED = "plain text (remove the leading character)"
FORMULA_START = r"^\s*[=+@]"  # the same in re, RE2 (DuckDB) and Rust regex (polars)


MAX_ERRORS_PER_RULE = 20


class ErrorCollector:
    """A file's errors, listing at most ``MAX_ERRORS_PER_RULE`` per rule and counting the rest,
    so that a rule broken on every row still gives a readable report. Errors of
    ``personal_data_rule``, of ``ingest.pii.PERSONAL_DATA_RULES`` and those added with
    ``personal_data=True`` are marked ``personal_data``."""

    def __init__(self, file: str, personal_data_rule: str | None = None) -> None:
        self.file = file
        self.personal_data_rule = personal_data_rule
        self.items: list[ValidationError] = []
        self.counts: dict[str, int] = {}
        self.expected: dict[str, str | None] = {}
        self.personal_rules: set[str] = set(PERSONAL_DATA_RULES)
        self.lines: list[int] = []  # per listed error: its line (0 when none), for the order
        self.unlisted: dict[str, list[int]] = {}  # per rule: the lines of errors not listed

    def add(
        self,
        place: str,
        rule: str,
        expected: str | None = None,
        *,
        personal_data: bool = False,
        line: int | None = None,
        group: str | None = None,
    ) -> None:
        """One error. ``line`` orders the report (errors without one first) and names where
        the errors not listed are; ``group`` is the rule an error counts under and the "more"
        line names (default ``rule``; for rule texts that vary, e.g. naming an account)."""
        key = group or rule
        self.counts[key] = self.counts.get(key, 0) + 1
        self.expected.setdefault(key, expected)
        if personal_data:
            self.personal_rules.add(key)
        if self.counts[key] <= MAX_ERRORS_PER_RULE:
            personal = self._personal(key) or self._personal(rule)
            self.items.append(ValidationError(self.file, place, rule, expected, personal))
            self.lines.append(line or 0)
        elif line is not None:
            self.unlisted.setdefault(key, []).append(line)

    def _personal(self, rule: str) -> bool:
        return rule == self.personal_data_rule or rule in self.personal_rules

    def more(self, rule: str, count: int, expected: str | None = None) -> None:
        """Count ``count`` further errors of ``rule`` that are not listed."""
        self.counts[rule] = self.counts.get(rule, 0) + count
        self.expected.setdefault(rule, expected)

    def __bool__(self) -> bool:
        return bool(self.items)

    def finish(self, where: str = "file") -> list[ValidationError]:
        """The listed errors in line order, then one per rule saying how many more there are
        (and on which lines, when known)."""
        more = [
            ValidationError(
                self.file,
                lines_place(self.unlisted[rule]) if rule in self.unlisted else where,
                f"{rule} — {count - MAX_ERRORS_PER_RULE} more not listed",
                self.expected[rule],
                personal_data=self._personal(rule),
            )
            for rule, count in self.counts.items()
            if count > MAX_ERRORS_PER_RULE
        ]
        order = sorted(range(len(self.items)), key=self.lines.__getitem__)
        return [self.items[i] for i in order] + more


def lines_place(lines: list[int], shown: int = 5) -> str:
    """``lines 3, 5, 8 (and 12 more)``."""
    lines = sorted(lines)
    text = ", ".join(str(line) for line in lines[:shown])
    more = f" (and {len(lines) - shown} more)" if len(lines) > shown else ""
    return f"line{'s' if len(lines) > 1 else ''} {text}{more}"


def printable(text: str) -> str:
    """``text`` for one line of a message: control characters (e.g. in a file name) as ``?``."""
    return "".join(c if c.isprintable() else "?" for c in text)


def format_report(name: str, source: str, errors: list[ValidationError], limit: int = 200) -> str:
    """A plain-text error report that a data provider can act on; ``name`` is the file's name
    as shown (a name holding a personal identity number is shown by the file's hash)."""
    lines = [
        f"File:   {printable(name)}",
        f"Source: {source}",
        f"Result: rejected, {len(errors)} error(s)",
        "",
    ]
    lines += [
        f"- {error.place}: {error.rule}"
        + (f" (expected: {error.expected})" if error.expected else "")
        for error in errors[:limit]
    ]
    if len(errors) > limit:
        lines.append(f"... and {len(errors) - limit} more")
    return "\n".join(lines) + "\n"
