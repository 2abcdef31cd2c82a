"""The table of a spreadsheet-like file (``ingest.spreadsheet``'s grid) as the provider reports
and the budget file share it: a table header naming known columns, rows down to the first
empty row, the cells checked before any rule (formulas, personal identity numbers) and the
rules checked per cell with polars expressions (a :class:`Plan`).

Used by ``ingest.provider_reports`` and ``ingest.budget``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from ingest.pii import RULE_PERSONNUMMER, RULE_WITHOUT_ZERO, find_personnummer_without_leading_zero
from ingest.spreadsheet import (
    EXPECTED_UNSAVED_FORMULA,
    NUMBER,
    RULE_UNSAVED_FORMULA,
    Family,
    Grid,
    add_cell_errors,
    header_key,
    load,
    note_ignored,
)
from ingest.validation import FORMULA_EXPECTED, FORMULA_RULE, FORMULA_START, Bound, ErrorCollector


@dataclass(frozen=True)
class Column:
    """A column of the table: its Swedish header, the raw table's column, its kind (each
    reader's own), its plausible range when numeric, and whether a 9-digit number may belong
    in it (if not, a 9-digit number that is a personal identity number without its leading
    zero is rejected)."""

    label: str
    field: str
    kind: str
    bound: Bound | None = None
    nine_digits: bool = False


@dataclass
class Layout:
    """Where things are in the grid (row and column indexes): the header block (its rows and
    those with a known label, whose value is in column B; provider reports only), the table
    header, the table's rows and its known columns."""

    header_rows: range = range(0)
    labels: dict[int, str] = field(default_factory=dict)  # header row → known label
    table_header: int | None = None
    rows: range = range(0)
    columns: dict[int, Column] = field(default_factory=dict)  # column index → known column

    def name_of(self, row: int, col: int) -> str | None:
        """The header-field or column name of a cell, when it has one."""
        if row in self.header_rows:
            return self.labels.get(row) if col == 1 else None
        in_table = row == self.table_header or row in self.rows
        return self.columns[col].label if in_table and col in self.columns else None


def open_table(
    path: Path,
    family: Family,
    find_layout: Callable[[Grid, ErrorCollector], Layout],
    errors: ErrorCollector,
) -> tuple[Grid | None, Layout, bool]:
    """Load the file (``ingest.spreadsheet.load``), find its layout and :func:`screen` it.
    Returns the grid (None when there is no table to check: the file could not be loaded or
    its fields are not separated by ``;``), the layout, and whether every text of the file
    was scanned for personal identity numbers."""
    grid, scanned = load(path, family, errors)
    if grid is None:
        return None, Layout(), scanned
    if not grid.separated:
        errors.add("line 1", "fields are not separated by ';'", "';' as the field separator")
        screen(grid, Layout(), family, errors)
        return None, Layout(), scanned
    layout = find_layout(grid, errors)
    screen(grid, layout, family, errors)
    return grid, layout, scanned


def empty_rows(grid: Grid) -> pl.Series:
    """Per grid row, whether all its cells are empty."""
    return grid.cells.select(pl.all_horizontal(pl.col(grid.columns).is_null())).to_series()


def table_at_first_row(
    columns: tuple[Column, ...], content: str
) -> Callable[[Grid, ErrorCollector], Layout]:
    """The layout finder of a file whose table header is its first non-empty row and whose
    rows follow it up to the first empty row; ``content`` names what an empty file lacks."""

    def find_layout(grid: Grid, errors: ErrorCollector) -> Layout:
        empty = empty_rows(grid)
        filled = (~empty).arg_true()
        layout = Layout()
        if filled.is_empty():
            errors.add(grid.where, "no content", content)
            return layout
        find_table(grid, layout, int(filled[0]), empty, columns, errors)
        return layout

    return find_layout


def find_table(
    grid: Grid,
    layout: Layout,
    header: int,
    empty: pl.Series,
    columns: tuple[Column, ...],
    errors: ErrorCollector,
) -> None:
    """Set the table of ``layout``: its header at grid row ``header``, its rows down to the
    first empty row, its known ``columns`` (by header, whitespace and case aside); report a
    column found twice or missing."""
    after = empty.slice(header + 1).arg_true()
    stop = header + 1 + int(after[0]) if not after.is_empty() else grid.cells.height
    layout.table_header, layout.rows = header, range(header + 1, stop)
    by_key = {header_key(column.label): column for column in columns}
    line = grid.line(header)
    seen: set[str] = set()
    for col, text in enumerate(grid.cells.row(header)[: len(grid.columns)]):
        column = by_key.get(header_key(text))
        if column is None:
            continue
        if column.field in seen:
            errors.add(
                grid.column_place(line, col, column.label),
                "column appears twice in the table header",
                f"each of the {len(columns)} columns once",
            )
            continue
        seen.add(column.field)
        layout.columns[col] = column
    for column in columns:
        if column.field not in seen:
            errors.add(
                grid.row_place(line, "table header"),
                f"missing column {column.label}",
                f"a column headed '{column.label}'",
            )


def screen(grid: Grid, layout: Layout, family: Family, errors: ErrorCollector) -> None:
    """The checks before any rule, on the cells the reader reads (header-block values, the
    table's known columns): text that a spreadsheet would run as a formula, and a personal
    identity number whose leading zero was dropped (in columns where no 9-digit number
    belongs). Those cells are marked ``found`` with the loader's (numbers, formulas without a
    saved value), then every found cell is reported once, in row and column order."""
    targets: list[tuple[int, list[int], bool]] = [(1, sorted(layout.labels), True)]
    targets += [
        (col, list(layout.rows), not column.nine_digits) for col, column in layout.columns.items()
    ]
    for col, rows, nine_digits in targets:
        if not rows:
            continue
        cells = grid.cells.select(pl.col(f"c{col}").gather(rows).alias("cell"))
        if nine_digits:
            hits = find_personnummer_without_leading_zero(cells, ["cell"])
            grid.set_found({(rows[row], col) for row, _ in hits}, RULE_WITHOUT_ZERO)
        cell = pl.col("cell")
        formula = cell.str.contains(FORMULA_START) & ~cell.str.contains(NUMBER)
        indexes = cells.select(formula.fill_null(False).arg_true()).to_series()
        grid.set_found({(rows[row], col) for row in indexes}, FORMULA_RULE)
    expected = {
        RULE_PERSONNUMMER: family.no_personal_data,
        RULE_WITHOUT_ZERO: family.no_personal_data,
        RULE_UNSAVED_FORMULA: EXPECTED_UNSAVED_FORMULA,
        FORMULA_RULE: FORMULA_EXPECTED,
    }
    for (row, col), rule in sorted(grid.found.items()):
        errors.add(grid.cell_place(row, col, layout.name_of(row, col)), rule, expected[rule])


@dataclass(frozen=True)
class Plan:
    """The polars expressions that check the table's rows: ``stages`` add helper columns in
    turn (parsed numbers, flags, values), ``rules`` give per field (or per row) the first rule
    broken as a struct (rule, expected), ``values`` the raw table's columns."""

    stages: tuple[tuple[pl.Expr, ...], ...]
    rules: tuple[pl.Expr, ...]
    values: tuple[pl.Expr, ...]


def table_rows(
    grid: Grid,
    layout: Layout,
    columns: Iterable[Column],
    errors: ErrorCollector,
    notes: list[str],
    no_rows: tuple[str, str],
) -> pl.DataFrame | None:
    """The table's rows: per known column its cells (named by field) and ``__found_<field>``
    (the cell was found by :func:`screen`, and emptied), and ``__line``. None without a table
    header, or with the error ``no_rows`` (rule, expected) when no row follows it. Notes what
    the table ignores."""
    if layout.table_header is None:
        return None
    start, stop = layout.rows.start, layout.rows.stop
    if stop == start:
        errors.add(grid.row_place(grid.line(layout.table_header), "table header"), *no_rows)
        return None
    note_ignored(grid, layout.table_header, layout.columns, stop, notes)
    col_of = {column.field: col for col, column in layout.columns.items()}
    present = [column for column in columns if column.field in col_of]
    return grid.cells.slice(start, stop - start).select(
        *[pl.col(f"c{col_of[c.field]}").alias(c.field) for c in present],
        *[
            pl.int_range(pl.len())
            .is_in([row - start for row, col in grid.found if col == col_of[c.field]])
            .alias(f"__found_{c.field}")
            for c in present
        ],
        pl.col("__line"),
    )


def check_rows(
    grid: Grid,
    layout: Layout,
    rows: pl.DataFrame,
    plan: Plan,
    errors: ErrorCollector,
) -> pl.DataFrame:
    """``rows`` with the plan's helper columns, after adding the errors its rules find."""
    for stage in plan.stages:
        rows = rows.with_columns(stage)
    col_of = {column.field: col for col, column in layout.columns.items()}
    labels = {column.field: column.label for column in layout.columns.values()}
    add_cell_errors(grid, rows.select("__line", *plan.rules), col_of, labels, errors)
    return rows
