"""Exports of the published marts for tools that cannot read DuckDB (Excel, R, Power Query).

Each publication writes every mart of its serving version as ``<mart>.parquet`` and
``<mart>.csv`` into ``exports/<publication>/`` beside the serving file; ``exports/current`` is a
link swapped right after the serving file's (orchestration/publishing.py). Both are written
by DuckDB ``COPY ... TO`` from the serving version.

- CSV for a Swedish Excel: ``;`` separator, decimal comma, UTF-8 with BOM, a header row, dates
  ISO (``2024-03-01``), booleans ``true``/``false`` as in the marts, null as an empty field.
  A text cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (after
  blanks) gets a leading ``'`` so that a spreadsheet shows it instead of running it (OWASP CSV
  injection); text columns only, so a negative number stays a number. Parquet keeps the
  texts as published (typed columns; no tool runs them).
- Small cells (docs/small_cells.md), in both: in a row whose ``is_small_cell`` is true, the
  columns whose yml says ``config: {meta: {suppress_when_small: …}}`` are empty (null).
  ``true``: when the row is a small cell; a window text (``partition by service order by year
  range between 1 preceding and current row``): when any row of that window is, for figures
  computed from another row (the year before). A mart published without the flag (a stale
  version of before it) has those columns empty in every row.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb

from ingest.validation import sql_literal

SMALL_CELL_FLAG = "is_small_cell"
SUPPRESS_META = "suppress_when_small"
# OWASP's formula-leading characters; RE2 (DuckDB).
FORMULA_LEADING = r"^(\s*[=+\-@]|[\t\r])"
BOM = "\ufeff"

# mart -> column -> None (suppressed when the row is small) or the window whose small rows
# suppress it
Suppression = Mapping[str, Mapping[str, str | None]]


def suppressed_columns(manifest: Mapping[str, Any]) -> dict[str, dict[str, str | None]]:
    """From the dbt manifest: per mart, the columns marked ``suppress_when_small``."""
    marts: dict[str, dict[str, str | None]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or node["config"].get("schema") != "marts":
            continue
        for column in node["columns"].values():
            mark = {**column.get("meta", {}), **column.get("config", {}).get("meta", {})}.get(
                SUPPRESS_META
            )
            if mark:
                marts.setdefault(node["name"], {})[column["name"]] = (
                    None if mark is True else str(mark)
                )
    return marts


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def write_exports(version: Path, folder: Path, suppressed: Suppression) -> None:
    """Every mart of the serving file ``version`` as Parquet and CSV in ``folder`` (created).

    Raises ValueError for a mart with ``is_small_cell`` but no column to suppress: its
    figures would be exported unsuppressed."""
    folder.mkdir(parents=True)
    with duckdb.connect() as con:
        con.execute(f"ATTACH {sql_literal(str(version))} AS serving (READ_ONLY)")
        for mart, typed in suppressed_views(con, "serving", suppressed).items():
            parquet = sql_literal(str(folder / f"{mart}.parquet"))
            con.execute(f"COPY export_{mart} TO {parquet} (FORMAT parquet)")
            csv_columns = [
                f"{_csv_value(name, data_type)} AS {_identifier((BOM if i == 0 else '') + name)}"
                for i, (name, data_type) in enumerate(typed)
            ]
            con.execute(
                f"COPY (SELECT {', '.join(csv_columns)} FROM export_{mart}) "
                f"TO {sql_literal(str(folder / f'{mart}.csv'))} (FORMAT csv, DELIMITER ';', HEADER)"
            )


def suppressed_views(
    con: duckdb.DuckDBPyConnection, database: str, suppressed: Suppression
) -> dict[str, list[tuple[str, str]]]:
    """For each mart of the attached ``database``, a temp view ``export_<mart>`` with its
    small cells' marked columns null; returns the marts' (column, type) lists.

    Raises ValueError for a mart with ``is_small_cell`` but no column to suppress: its
    figures would be shown unsuppressed."""
    columns: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in con.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE database_name = ? AND schema_name = 'marts' ORDER BY table_name, column_index",
        [database],
    ).fetchall():
        columns.setdefault(table, []).append((column, data_type))
    for mart, typed in columns.items():
        names = [name for name, _ in typed]
        hidden = suppressed.get(mart, {})
        if SMALL_CELL_FLAG in names and not hidden:
            raise ValueError(
                f"marts.{mart} has {SMALL_CELL_FLAG} but no column marked "
                f"{SUPPRESS_META} in its yml: its small cells would be shown"
            )
        con.execute(
            f"CREATE TEMP VIEW export_{mart} AS SELECT "
            + ", ".join(_suppress(name, data_type, hidden, names) for name, data_type in typed)
            + f" FROM {_identifier(database)}.marts.{_identifier(mart)}"
        )
    return columns


def _suppress(name: str, data_type: str, hidden: Mapping[str, str | None], names: list[str]) -> str:
    column = _identifier(name)
    if name not in hidden:
        return column
    if SMALL_CELL_FLAG not in names:
        return f"CAST(NULL AS {data_type}) AS {column}"
    flag = _identifier(SMALL_CELL_FLAG)
    window = hidden[name]
    small = flag if window is None else f"bool_or({flag}) OVER ({window})"
    return f"CASE WHEN coalesce({small}, true) THEN NULL ELSE {column} END AS {column}"


def _csv_value(name: str, data_type: str) -> str:
    """Text neutralised, decimals with a comma; the rest as DuckDB writes it."""
    column = _identifier(name)
    if data_type == "VARCHAR":
        return (
            f"CASE WHEN regexp_matches({column}, {sql_literal(FORMULA_LEADING)}) "
            f"THEN '''' || {column} ELSE {column} END"
        )
    if data_type.startswith("DECIMAL") or data_type in ("DOUBLE", "FLOAT"):
        return f"replace(CAST({column} AS VARCHAR), '.', ',')"
    return column
