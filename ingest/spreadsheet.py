"""Spreadsheet-like landing files: an Excel ``.xlsx`` on a named sheet, or a CSV exported from
Swedish Excel (``;``, decimal comma, UTF-8 with or without BOM, or Windows-1252, lines padded
with ``;``), read into one grid of trimmed text cells, and the checks the readers of such files
share: the CSV encoding rule, numbers written with a decimal comma or point, personal identity
numbers anywhere in the file (every sheet, comment and other part of a workbook, every line of
a CSV), formulas without a saved value, and per-cell errors that name the place in the
sender's terms.

Used by ``ingest.provider_reports`` and ``ingest.budget`` (through ``ingest.sheet_layout``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import fastexcel
import polars as pl

from ingest.pii import RULE_PERSONNUMMER, SHAPE, contains_personnummer, find_personnummer
from ingest.validation import MAX_ERRORS_PER_RULE, ErrorCollector
from ingest.workbook_scan import scan_workbook

# A number as a cell may hold it: 12, -12, 12,5, 12.5, .5, and Excel's float text (1.5E+3).
NUMBER = r"^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?$"
# A number as plain text with at most two decimals: parsed exactly (no binary float).
PLAIN_TWO_DECIMALS = r"^[+-]?\d+(?:[.,]\d{0,2})?$"
UTF8_BOM = b"\xef\xbb\xbf"
MIN_COLUMNS = 2  # the grid always has columns c0 and c1, even for a one-column file
RULE_UNSAVED_FORMULA = "a formula whose value was not saved"
EXPECTED_UNSAVED_FORMULA = (
    "a value: open the file in Excel and save it (the program that wrote it does not "
    "calculate formulas), or type the value"
)
RULE_MIXED = "mixed encodings in one file: line {} is UTF-8, this line is not"
EXPECTED_ENCODING = (
    "one encoding for the whole file: UTF-8 (Excel's 'CSV UTF-8') or Windows-1252 (Excel's "
    "'CSV (semikolonavgränsad)')"
)


@dataclass(frozen=True)
class Family:
    """What a family's messages call its file: the sheet the table is on, the content and the
    filled-in table the sender should provide, and what is expected where a personal identity
    number was found."""

    sheet: str
    content: str  # e.g. "the report"
    filled: str  # e.g. "the filled-in template"
    no_personal_data: str  # e.g. "no personal identity numbers: the report holds aggregates only"


# --------------------------------------------------------------------------------------------
# The grid
# --------------------------------------------------------------------------------------------
@dataclass
class Grid:
    """The cells of one sheet or of the CSV: columns ``c0``, ``c1``, … (sheet column A, B, …
    or CSV field 1, 2, …) as trimmed strings (null when empty), and ``__line``, the sheet row
    or CSV line of each row (1-based). ``sheet`` is the sheet's name (xlsx only)."""

    cells: pl.DataFrame
    is_xlsx: bool
    sheet: str | None = None
    separated: bool = True  # CSV: whether any line has a ';'
    # Cells found breaking a rule before any other check (a personal identity number, a
    # formula whose value was not saved, …): (row index, column index) → the rule. They are
    # emptied in ``cells``, so that no value of theirs reaches a message or a table, and
    # reported once, by ``ingest.sheet_layout.report_found``.
    found: dict[tuple[int, int], str] = field(default_factory=dict)

    def set_found(self, cells: Collection[tuple[int, int]], rule: str) -> None:
        """Mark ``cells`` found breaking ``rule`` (unless found already) and empty them."""
        new = {cell for cell in cells if cell not in self.found}
        self.found.update(dict.fromkeys(new, rule))
        self.cells = mask(self.cells, new)

    @property
    def columns(self) -> list[str]:
        """The cell columns ``c0``, ``c1``, … (without ``__line``)."""
        return [name for name in self.cells.columns if name != "__line"]

    @property
    def where(self) -> str:
        """The whole content: ``sheet <name>`` or ``file``."""
        return f"sheet {self.sheet}" if self.is_xlsx else "file"

    def line(self, row: int) -> int:
        """The sheet row or CSV line of grid row ``row`` (0-based index)."""
        return int(self.cells["__line"][row])

    def row_place(self, line: int, name: str | None = None) -> str:
        """``sheet Rapport, row 7`` or ``line 7``, with ``(name)`` when given."""
        unit = f"sheet {self.sheet}, row" if self.is_xlsx else "line"
        return f"{unit} {line}" + (f" ({name})" if name else "")

    def column_place(self, line: int, col: int, name: str | None = None) -> str:
        """``sheet Rapport, row 7, column E`` or ``line 7, column 5``, with ``(name)``."""
        column = column_letter(col) if self.is_xlsx else str(col + 1)
        return f"{self.row_place(line)}, column {column}" + (f" ({name})" if name else "")

    def cell_place(self, row: int, col: int, name: str | None = None) -> str:
        """:meth:`column_place` of grid row ``row`` (0-based index)."""
        return self.column_place(self.line(row), col, name)


def column_letter(index: int) -> str:
    """Excel's column name of column ``index`` (0-based): A, …, Z, AA, …"""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def header_key(text: str | None) -> str:
    """A label or column header as matched: whitespace collapsed, NFC, case-folded."""
    if text is None:
        return ""
    return unicodedata.normalize("NFC", " ".join(text.split())).casefold()


def normalise(frame: pl.DataFrame, lines: pl.Expr) -> pl.DataFrame:
    """Trim every cell (an empty or blank cell becomes null) and add ``__line``."""
    trimmed = {name: pl.col(name).str.strip_chars() for name in frame.columns}
    return frame.select(
        *[pl.when(cell != "").then(cell).alias(name) for name, cell in trimmed.items()],
        lines.cast(pl.Int32).alias("__line"),
    )


# --------------------------------------------------------------------------------------------
# Loading: both formats become a grid of trimmed text cells, null for empty
# --------------------------------------------------------------------------------------------
def load(path: Path, family: Family, errors: ErrorCollector) -> tuple[Grid | None, bool]:
    """The file as a grid (by its suffix: ``.xlsx`` or ``.csv``; None for another) and whether
    every text of the file was scanned for personal identity numbers. Numbers found outside
    the grid, and problems that leave no grid, are added to ``errors``."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return load_xlsx(path, family, errors)
    if suffix == ".csv":
        return load_csv(path, family, errors)
    return None, False


def load_xlsx(path: Path, family: Family, errors: ErrorCollector) -> tuple[Grid | None, bool]:
    """Sheet ``family.sheet`` of a workbook as a grid, every cell as text (an Excel number as
    its float's text), after every part of the workbook was scanned (``scanned`` then True):
    numbers on other sheets and in comments and other parts are reported here, those in the
    grid's cells and its formulas without a saved value are marked ``found``. None, with an
    error, when the workbook cannot be read or has no such sheet or the sheet is empty."""
    scan = scan_workbook(path)
    unreadable = ("file", "not a readable .xlsx workbook", "an .xlsx file saved from Excel")
    if scan is None:
        errors.add(*unreadable)
        return None, False
    sheet = family.sheet
    for name in scan.sheets:
        for row, col in sorted(scan.cells.get(name, ())) if name != sheet else ():
            place = f"{scan.sheet_label(name)}, row {row + 1}, column {column_letter(col)}"
            errors.add(place, RULE_PERSONNUMMER, family.no_personal_data)
    for place in scan.places:
        errors.add(place, RULE_PERSONNUMMER, family.no_personal_data)
    try:
        workbook = fastexcel.read_excel(str(path))
    except Exception:  # noqa: BLE001 - any failure to open means: not a readable workbook
        errors.add(*unreadable)
        return None, True
    if sheet not in workbook.sheet_names:
        errors.add(
            "file",
            f"no sheet named {sheet}",
            f"{family.content} on a sheet named exactly '{sheet}'",
        )
        return None, True
    try:
        loaded = workbook.load_sheet(sheet, header_row=None, skip_rows=0, dtypes="string")
        raw = loaded.to_polars()
        positions = [info.absolute_index for info in loaded.selected_columns]
    except Exception:  # noqa: BLE001 - calamine found no cells at all
        raw, positions = pl.DataFrame(), []
    if raw.height == 0 or not positions:
        raw, positions = pl.DataFrame(), []
    # fastexcel drops leading empty columns; put them back so that c<i> is column i.
    by_position = dict(zip(positions, raw.columns, strict=True))
    width = max([*positions, MIN_COLUMNS - 1]) + 1
    hits = scan.cells.get(sheet, set())
    in_grid = {(row, col) for row, col in hits if row < raw.height and col < width}
    for row, col in sorted(hits - in_grid):  # e.g. in the formula of a cell without a value
        place = f"sheet {sheet}, row {row + 1}, column {column_letter(col)}"
        errors.add(place, RULE_PERSONNUMMER, family.no_personal_data)
    if not positions:
        errors.add(f"sheet {sheet}", f"sheet {sheet} is empty", family.filled)
        return None, True
    frame = raw.select(
        (
            pl.col(by_position[i]).cast(pl.String) if i in by_position else pl.lit(None, pl.String)
        ).alias(f"c{i}")
        for i in range(width)
    )
    grid = Grid(normalise(frame, pl.int_range(1, pl.len() + 1)), is_xlsx=True, sheet=sheet)
    grid.set_found(scan_personnummer(grid) | in_grid, RULE_PERSONNUMMER)
    unsaved = scan.unsaved_formulas(sheet)
    grid.set_found(
        {(r, c) for r, c in unsaved if r < raw.height and c < width}, RULE_UNSAVED_FORMULA
    )
    return grid, True


def line_at(data: bytes, offset: int) -> str:
    """``line N``: the line (1-based) holding byte ``offset``."""
    return "line " + str(data.count(b"\n", 0, offset) + 1)


def decode_csv(data: bytes, errors: ErrorCollector) -> str | None:
    """BOM → UTF-8; else strict UTF-8; else Windows-1252 (the contracts' rule). None, with an
    error naming the line, when none applies: the file is UTF-16, holds NUL bytes, mixes
    UTF-8 with another encoding, or is neither."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        errors.add(
            "file", "the file is UTF-16 (Excel's 'Unicode text')", "UTF-8 or Windows-1252 CSV"
        )
        return None
    body = data.removeprefix(UTF8_BOM)
    try:
        return _no_nul(body.decode("utf-8"), data, errors)
    except UnicodeDecodeError as error:
        bad = line_at(data, error.start + len(data) - len(body))
    utf8 = next(
        (n for n, line in enumerate(body.split(b"\n"), 1) if _encoding(line) == "utf-8"), None
    )
    if utf8 is not None:
        errors.add(bad, RULE_MIXED.format(utf8), EXPECTED_ENCODING)
        return None
    if body is not data:
        errors.add(
            bad,
            "the file starts with a UTF-8 byte order mark but is not valid UTF-8",
            "UTF-8 (Excel's 'CSV UTF-8') or Windows-1252",
        )
        return None
    try:
        return _no_nul(data.decode("cp1252"), data, errors)
    except UnicodeDecodeError as error:
        errors.add(
            line_at(data, error.start),
            "the file is neither UTF-8 nor Windows-1252",
            "UTF-8 (Excel's 'CSV UTF-8') or Windows-1252 (Excel's 'CSV (semikolonavgränsad)')",
        )
        return None


def _no_nul(text: str, data: bytes, errors: ErrorCollector) -> str | None:
    """``text``, or None with an error when it holds a NUL (binary, or UTF-16 without a byte
    order mark, whose digits no scan would find)."""
    if "\x00" not in text:
        return text
    errors.add(
        line_at(data, data.index(b"\x00")),
        "NUL byte: not a text file (or UTF-16 without a byte order mark)",
        "UTF-8 or Windows-1252 CSV",
    )
    return None


def _encoding(line: bytes) -> str | None:
    """``ascii``, ``utf-8`` (not ASCII), ``cp1252`` (neither), or None (none of these)."""
    for encoding in ("ascii", "utf-8", "cp1252"):
        try:
            line.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    return None


def csv_lines(data: bytes) -> list[str] | None:
    """The lines of a CSV as text, each in the encoding it decodes in (UTF-8, else
    Windows-1252; the whole file for UTF-16 with a byte order mark), for the scan for personal
    identity numbers even when the file breaks the encoding rule; None when some line (or a NUL
    byte) decodes in none."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16").split("\n")
        except UnicodeDecodeError:
            return None
    lines = []
    for line in data.removeprefix(UTF8_BOM).split(b"\n"):
        encoding = _encoding(line)
        if encoding is None or b"\x00" in line:
            return None
        lines.append(line.decode(encoding))
    return lines


def load_csv(path: Path, family: Family, errors: ErrorCollector) -> tuple[Grid | None, bool]:
    """A ``;``-separated CSV as a grid (``separated`` is False when no line has a ``;``), its
    fields holding a personal identity number marked ``found``, and whether every line was
    scanned. None, with an error (and the lines holding a number), when the file cannot be
    decoded or parsed or is empty."""
    data = path.read_bytes()
    text = decode_csv(data, errors)
    if text is None:
        return None, _scan_lines(csv_lines(data), family, errors)
    if not text.strip(" \t\r\n;"):
        errors.add("file", "the file is empty", f"{family.filled} exported as CSV")
        return None, True
    width = max(line.count(";") for line in text.splitlines()) + 1
    frame = None
    # A quoted field may hold line breaks, so a record can have more fields than any line.
    for columns in (max(width, MIN_COLUMNS), text.count(";") + MIN_COLUMNS):
        try:
            frame = pl.read_csv(
                text.encode("utf-8"),
                separator=";",
                has_header=False,
                schema={f"c{i}": pl.String for i in range(columns)},
                missing_columns="insert",
                quote_char='"',
            )
            break
        except pl.exceptions.PolarsError:
            continue
    if frame is None:
        errors.add("file", "not a readable CSV file", "';'-separated lines as Excel exports them")
        return None, _scan_lines(text.split("\n"), family, errors)
    # Line number of each record: 1 + records before it + line breaks inside earlier records.
    breaks = pl.sum_horizontal(
        pl.col(name).str.count_matches("\n", literal=True).fill_null(0) for name in frame.columns
    )
    line = pl.int_range(1, pl.len() + 1) + breaks.cum_sum().shift(1, fill_value=0)
    grid = Grid(normalise(frame, line), is_xlsx=False, separated=width > 1)
    grid.set_found(scan_personnummer(grid), RULE_PERSONNUMMER)
    return grid, True


def _scan_lines(lines: list[str] | None, family: Family, errors: ErrorCollector) -> bool:
    """Report each line holding a personal identity number; whether there were lines."""
    if lines is None:
        return False
    for number, line in enumerate(lines, 1):
        if contains_personnummer(line):
            errors.add(f"line {number}", RULE_PERSONNUMMER, family.no_personal_data)
    return True


def accepts_table_file(path: Path, prefix: str, header_columns: set[str]) -> bool:
    """Whether ``path`` looks like a file of a one-table spreadsheet family (``kson validate``
    guesses the family with it): an ``.xlsx`` or ``.csv`` whose name begins with ``prefix``, or
    a ``.csv`` whose first line has the columns ``header_columns`` (as ``header_key`` gives
    them)."""
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        return False
    if path.name.casefold().startswith(prefix):
        return True
    if suffix != ".csv":
        return False
    first = csv_head(path).splitlines()[:1]
    fields = {header_key(text.strip('"')) for text in first[0].split(";")} if first else set()
    return header_columns <= fields


def csv_head(path: Path, size: int = 256) -> str:
    """The start of a CSV as text (BOM dropped, undecodable bytes replaced), for ``accepts``;
    empty when the file cannot be read."""
    try:
        with path.open("rb") as handle:
            head = handle.read(size)
    except OSError:
        return ""
    return head.removeprefix(UTF8_BOM).decode("utf-8", errors="replace")


# --------------------------------------------------------------------------------------------
# Personal identity numbers
# --------------------------------------------------------------------------------------------
def scan_personnummer(grid: Grid) -> set[tuple[int, int]]:
    """(row index, column index) of every cell of the grid holding a personal identity number.

    One pass finds the columns with a candidate (10 or 12 digits, maybe with a separator);
    ``ingest.pii`` then checks those columns only.
    """
    has_candidate = grid.cells.select(pl.col(grid.columns).str.contains(SHAPE).any()).row(0)
    columns = [name for name, flag in zip(grid.columns, has_candidate, strict=True) if flag]
    if not columns:
        return set()
    return {(row, int(name[1:])) for row, name in find_personnummer(grid.cells, columns)}


def mask(cells: pl.DataFrame, hits: set[tuple[int, int]]) -> pl.DataFrame:
    """The grid's cells with those holding a personal identity number emptied, so that no value
    of theirs reaches an error message or a table (their checks are skipped, see ``hits``)."""
    rows_by_column: dict[str, list[int]] = {}
    for row, col in hits:
        rows_by_column.setdefault(f"c{col}", []).append(row)
    return cells.with_columns(
        pl.when(pl.int_range(pl.len()).is_in(rows)).then(None).otherwise(pl.col(name)).alias(name)
        for name, rows in rows_by_column.items()
    )


# --------------------------------------------------------------------------------------------
# Numbers and rules as polars expressions
# --------------------------------------------------------------------------------------------
def number(name: str) -> pl.Expr:
    """A cell as a number: ``12``, ``12,5``, ``12.5`` (and Excel's float text); else null."""
    text = pl.col(name)
    return pl.when(text.str.contains(NUMBER)).then(
        text.str.replace(",", ".", literal=True).cast(pl.Float64, strict=False)
    )


def two_decimal_number(name: str, suffix: str = "") -> list[pl.Expr]:
    """A cell parsed for "at most two decimals": ``__plain<suffix>`` (plain text with at most
    two decimals), ``__exact<suffix>`` (its exact Decimal(38, 2), null unless plain) and
    ``__float<suffix>`` (anything else numeric, e.g. Excel's float text or an exponent, as a
    float; null unless numeric and not plain)."""
    text = pl.col(name)
    plain = text.str.contains(PLAIN_TWO_DECIMALS)
    return [
        plain.fill_null(False).alias(f"__plain{suffix}"),
        pl.when(plain)
        .then(text.str.replace(",", ".", literal=True).cast(pl.Decimal(38, 2), strict=False))
        .alias(f"__exact{suffix}"),
        pl.when(~plain).then(number(name)).alias(f"__float{suffix}"),
    ]


def close_to_whole(value: pl.Expr, relative: float = 1e-11) -> pl.Expr:
    """Whole up to binary floating-point noise (Excel may store 0.1 + 0.2 as
    0.30000000000000004, which it shows as 0.3); ``relative`` is the tolerance per unit."""
    return (value - value.round(0)).abs() <= relative * pl.max_horizontal(pl.lit(1.0), value.abs())


def first_rule(cases: list[tuple[pl.Expr, str, str | pl.Expr]]) -> pl.Expr:
    """The first case (condition, rule, expected) whose condition holds, as a struct (rule,
    expected); null if none."""
    chain = None
    for condition, rule, expected in cases:
        outcome = pl.struct(
            rule=pl.lit(rule, pl.String),
            expected=expected if isinstance(expected, pl.Expr) else pl.lit(expected, pl.String),
        )
        chain = (pl if chain is None else chain).when(condition).then(outcome)
    return chain


def add_cell_errors(
    grid: Grid,
    checked: pl.DataFrame,
    col_of: dict[str, int],
    label_of: dict[str, str],
    errors: ErrorCollector,
) -> None:
    """Add the errors of ``checked``: column ``__line`` and, per field, a struct (rule,
    expected) from :func:`first_rule`, null where the cell is fine. Each error names the cell
    (``col_of[field]``, labelled ``label_of[field]``); a field missing from ``col_of`` names
    the row only. Sorted by row and column; at most ``MAX_ERRORS_PER_RULE`` per rule are
    listed, the rest counted."""
    if checked.width == 1:  # no column of the table was found: nothing to check per cell
        return
    found = (
        checked.unpivot(index="__line", variable_name="field").unnest("value").drop_nulls("rule")
    )
    if not found.height:
        return
    found = (
        found.with_columns(
            col=pl.col("field").replace_strict(col_of, default=None, return_dtype=pl.Int32)
        )
        .sort("__line", "col")
        .with_columns(n=pl.int_range(pl.len()).over("rule"), total=pl.len().over("rule"))
        .filter(pl.col("n") < MAX_ERRORS_PER_RULE)
    )
    for line, col, name, rule, expected, n, total in found.select(
        "__line", "col", "field", "rule", "expected", "n", "total"
    ).rows():
        place = (
            grid.row_place(line) if col is None else grid.column_place(line, col, label_of[name])
        )
        errors.add(place, rule, expected)
        if n == MAX_ERRORS_PER_RULE - 1 and total > MAX_ERRORS_PER_RULE:
            errors.more(rule, total - MAX_ERRORS_PER_RULE, expected)


def note_ignored(
    grid: Grid, header_row: int, known: Collection[int], stop: int, notes: list[str]
) -> None:
    """Notes (never values) on what a reader skipped: non-empty cells of the table header (grid
    row ``header_row``) in columns not in ``known``, and non-empty rows from grid row ``stop``
    (the table's first empty row) on."""
    header_cells = grid.cells.row(header_row)[: len(grid.columns)]
    extra = sum(1 for col, text in enumerate(header_cells) if text and col not in known)
    if extra:
        notes.append(f"{extra} extra column(s) in the table ignored")
    below = grid.cells.slice(stop).select(
        pl.any_horizontal(pl.col(grid.columns).is_not_null()).sum()
    )
    if below.item():
        notes.append(f"{below.item()} non-empty row(s) below the table's first empty row ignored")
