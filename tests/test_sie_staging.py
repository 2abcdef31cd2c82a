"""The SIE reader with the loader's staging folder: the large tables as Parquet files there,
loaded by DuckDB with the same rows and types as the frames read without one."""

from pathlib import Path

import duckdb
import polars as pl
from test_sie_reader import DOMAIN_EXAMPLE, write

from ingest import sie
from ingest.validation import SqlScan

LEDGER = DOMAIN_EXAMPLE.replace(
    "#KTYP 4610 K\n", '#KTYP 4610 K\n#KONTO 1930 "Bank"\n#KONTO 2440 "Leverantörsskulder"\n'
).replace("#UB 0 1930 980000.00", "#UB 0 1930 1250000.00")


def test_staged_tables_load_the_rows_read_in_memory(tmp_path: Path):
    path = write(tmp_path, LEDGER)
    staging = tmp_path / "staging"
    staging.mkdir()
    in_memory = sie.read(path)
    staged = sie.read(path, staging=staging)
    assert staged.ok and staged.notes == in_memory.notes
    assert sorted(p.name for p in staging.iterdir()) == [
        "test.se.sie_balances.parquet",
        "test.se.sie_transactions.parquet",
    ]
    assert staged.rows_per_table() == in_memory.rows_per_table()
    con = duckdb.connect()
    for name, content in staged.tables.items():
        expected = in_memory.tables[name]
        if name not in sie.STAGED:
            assert content.equals(expected)
            continue
        assert isinstance(content, SqlScan)
        loaded = con.sql(content.query(path)).pl()  # the archived path is not read
        assert loaded.schema == sie.TABLE_SCHEMAS[name]
        assert loaded.equals(expected), name
    assert staged.tables[sie.TRANSACTIONS_TABLE].rows == 2


def test_a_rejected_file_stages_nothing(tmp_path: Path):
    path = write(tmp_path, DOMAIN_EXAMPLE)  # breaks two ledger rules
    staging = tmp_path / "staging"
    staging.mkdir()
    result = sie.read(path, staging=staging)
    assert not result.ok and not result.tables
    assert list(staging.iterdir()) == []
    accepted = sie.read(write(tmp_path, LEDGER))  # without staging: frames, nothing written
    assert isinstance(accepted.tables[sie.TRANSACTIONS_TABLE], pl.DataFrame)
    assert list(staging.iterdir()) == []
