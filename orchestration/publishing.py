"""Publish the gated marts from the build database into the serving file, atomically.

The marts are copied into a new file beside the serving file, written in an older DuckDB
storage version so that BI connectors bundling DuckDB 1.x can open it, and then renamed over
the serving file (``os.replace``, atomic on POSIX). A reader that has the old file open keeps
reading it; a reader that opens the file after the rename sees the new one; nobody ever sees a
half-written file, and the pipeline never holds a lock on the serving file.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import duckdb

PUBLICATION_DDL = """
CREATE TABLE serving.meta.publication AS
SELECT now() AS published_at, ?::VARCHAR AS run_id, ?::VARCHAR AS storage_version,
       ?::VARCHAR[] AS tables
"""


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def publish_marts(
    build_db: Path, serving_db: Path, tables: list[str], storage_version: str, run_id: str = ""
) -> dict[str, int]:
    """Copy ``marts.<table>`` for each of ``tables`` into a fresh serving file and swap it in.

    Table and column comments (the dbt docs) travel along. Returns rows per table.
    """
    serving_db.parent.mkdir(parents=True, exist_ok=True)
    staged = serving_db.with_name(f".{serving_db.name}.{uuid.uuid4().hex}.publishing")
    rows: dict[str, int] = {}
    try:
        with duckdb.connect() as con:
            con.execute(f"ATTACH {_quote(str(build_db))} AS build (READ_ONLY)")
            con.execute(
                f"ATTACH {_quote(str(staged))} AS serving "
                f"(STORAGE_VERSION {_quote(storage_version)})"
            )
            con.execute("CREATE SCHEMA serving.marts; CREATE SCHEMA serving.meta")
            for table in tables:
                con.execute(
                    f"CREATE TABLE serving.marts.{table} AS SELECT * FROM build.marts.{table}"
                )
                rows[table] = con.execute(f"SELECT count(*) FROM serving.marts.{table}").fetchall()[
                    0
                ][0]
                _copy_comments(con, table)
            con.execute(PUBLICATION_DDL, [run_id, storage_version, tables])
            con.execute("DETACH serving")
        with staged.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(staged, serving_db)
        directory = os.open(serving_db.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    finally:
        staged.unlink(missing_ok=True)
        staged.with_name(staged.name + ".wal").unlink(missing_ok=True)
    return rows


def _copy_comments(con: duckdb.DuckDBPyConnection, table: str) -> None:
    [(table_comment,)] = con.execute(
        "SELECT comment FROM duckdb_tables() "
        "WHERE database_name = 'build' AND schema_name = 'marts' AND table_name = ?",
        [table],
    ).fetchall()
    if table_comment:
        con.execute(f"COMMENT ON TABLE serving.marts.{table} IS {_quote(table_comment)}")
    for column, comment in con.execute(
        "SELECT column_name, comment FROM duckdb_columns() WHERE database_name = 'build' "
        "AND schema_name = 'marts' AND table_name = ? AND comment IS NOT NULL",
        [table],
    ).fetchall():
        con.execute(f'COMMENT ON COLUMN serving.marts.{table}."{column}" IS {_quote(comment)}')


def published_tables(serving_db: Path) -> dict[str, int]:
    """Rows per published mart, read the way a BI tool reads (read-only)."""
    if not serving_db.exists():
        return {}
    with duckdb.connect(str(serving_db), read_only=True) as con:
        names = [
            name
            for (name,) in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts' ORDER BY 1"
            ).fetchall()
        ]
        return {
            name: con.execute(f"SELECT count(*) FROM marts.{name}").fetchall()[0][0]
            for name in names
        }
