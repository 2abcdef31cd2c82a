"""What the Dagster UI says about each asset: owners and tags per layer, and the row count and
typed column schema of its table in the build database.

Owners and tags (one place for all assets):

| group (layer)  | owners                 | tags                                                  |
|----------------|------------------------|-------------------------------------------------------|
| raw            | team:data-engineering  | layer, source_family                                  |
| reference      | team:data-engineering  | layer, domain (the seed's folder, where it has one)   |
| staging        | team:data-engineering  | layer, source_family (of the raw tables it reads)     |
| intermediate   | team:data-engineering  | layer, source_family                                  |
| marts          | team:follow-up         | layer, domain (models/marts/<domain>/), source_family |
| serving        | team:follow-up         | layer                                                 |

A dbt model's source_family is the family whose raw tables it reads (through other models
too), when that is one family.
"""

from collections.abc import Iterable
from typing import Any

import duckdb
from dagster import TableColumn, TableSchema

DATA_ENGINEERING = "team:data-engineering"
FOLLOW_UP = "team:follow-up"

OWNERS: dict[str, str] = {
    "raw": DATA_ENGINEERING,
    "reference": DATA_ENGINEERING,
    "staging": DATA_ENGINEERING,
    "intermediate": DATA_ENGINEERING,
    "marts": FOLLOW_UP,
    "serving": FOLLOW_UP,
}


def catalog(
    layer: str, *, source_family: str | None = None, domain: str | None = None
) -> dict[str, Any]:
    """``group_name``, ``owners`` and ``tags`` of an asset in ``layer`` (an AssetSpec's or an
    ``@asset``'s arguments)."""
    return {
        "group_name": layer,
        "owners": [OWNERS[layer]],
        "tags": tags(layer, source_family, domain),
    }


def tags(layer: str, source_family: str | None = None, domain: str | None = None) -> dict[str, str]:
    named = {"layer": layer, "source_family": source_family, "domain": domain}
    return {key: value for key, value in named.items() if value}


def table_metadata(
    con: duckdb.DuckDBPyConnection, relations: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """``dagster/row_count``, ``dagster/column_schema`` (DuckDB types, column comments) and
    ``dagster/table_name`` of each (schema, table or view) that exists, by (schema, name): one
    query for the columns and one for the counts."""
    wanted = {f"{schema}.{table}" for schema, table in relations}
    columns: dict[tuple[str, str], list[TableColumn]] = {}
    for schema, table, name, data_type, comment in con.execute(
        "SELECT schema_name, table_name, column_name, data_type, comment FROM duckdb_columns() "
        "WHERE database_name = current_database() "
        "AND list_contains(?, schema_name || '.' || table_name) "
        "ORDER BY schema_name, table_name, column_index",
        [sorted(wanted)],
    ).fetchall():
        columns.setdefault((schema, table), []).append(
            TableColumn(name, data_type, description=comment or None)
        )
    if not columns:
        return {}
    existing = sorted(columns)
    counts = dict(
        con.execute(
            " UNION ALL ".join(
                f'SELECT {i}, count(*) FROM "{schema}"."{table}"'
                for i, (schema, table) in enumerate(existing)
            )
        ).fetchall()
    )
    [(database,)] = con.execute("SELECT current_database()").fetchall()
    return {
        relation: {
            "dagster/row_count": counts[i],
            "dagster/column_schema": TableSchema(columns=columns[relation]),
            "dagster/table_name": f"{database}.{relation[0]}.{relation[1]}",
        }
        for i, relation in enumerate(existing)
    }
