"""marts.dq_results (orchestration/quality.py): every check result of the session's run on
every family, published with comments and exported; the run's Great Expectations Data Docs.
A failing check's row (passed false, its failing rows) is asserted where a run fails one:
tests/test_pipeline.py."""

import duckdb

from expectations import SUITES
from ingest.freshness import SCHEDULES
from ingest.registry import FAMILIES
from orchestration.publishing import exports_dir
from orchestration.quality import COLUMNS, data_docs_dir


def dq_results(workspace) -> list[dict]:
    with duckdb.connect(str(workspace.serving_db), read_only=True) as con:
        cursor = con.execute("SELECT * FROM marts.dq_results")
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_one_row_per_check_of_the_run_with_its_result(full_run):
    workspace, result = full_run
    rows = dq_results(workspace)
    assert {row["run_id"] for row in rows} == {result.run_id}
    checks = {
        (c.asset_key.to_user_string(), c.check_name): c
        for c in result.get_asset_check_evaluations()
    }
    recorded = {
        (row["asset"], row["check_name"]): row for row in rows if row["kind"] != "quarantine"
    }
    assert recorded.keys() == checks.keys() and len(recorded) == len(rows) - len(FAMILIES) - 1
    for key, check in checks.items():
        row = recorded[key]
        assert (row["passed"], row["severity"]) == (check.passed, check.severity.value), key
    kinds = {(row["kind"], row["passed"]) for row in recorded.values()}
    # Every dbt test and suite passed; the freshness checks warn (the sample ends in 2024).
    assert kinds == {("dbt_test", True), ("gx_suite", True), ("freshness", False)}
    assert sum(row["kind"] == "gx_suite" for row in rows) == len(SUITES)
    assert sum(row["kind"] == "freshness" for row in rows) == len(SCHEDULES)
    dbt = next(row for row in rows if row["kind"] == "dbt_test")
    assert (dbt["failing_rows"], dbt["message"]) == (0, "dbt test pass")


def test_quarantines_per_family_of_the_run(full_run):
    workspace, _ = full_run
    quarantines = {
        row["asset"]: row for row in dq_results(workspace) if row["kind"] == "quarantine"
    }
    assert quarantines.keys() == {
        f"raw/{SCHEDULES[name].table if name in SCHEDULES else next(iter(family.tables))}"
        for name, family in FAMILIES.items()
    } | {"raw/unclaimed_files"}
    with duckdb.connect(str(workspace.build_db), read_only=True) as con:
        [(quarantined,)] = con.execute("SELECT count(*) FROM raw.quarantine_log").fetchall()
    assert sum(row["failing_rows"] for row in quarantines.values()) == quarantined
    for row in quarantines.values():
        assert row["passed"] == (row["failing_rows"] == 0)
        assert row["severity"] == "WARN"
        assert (
            row["message"] == f"{row['failing_rows']} file(s) quarantined (see raw.quarantine_log)"
        )


def test_documented_and_exported_like_the_marts(full_run):
    workspace, _ = full_run
    with duckdb.connect(str(workspace.serving_db), read_only=True) as con:
        [(table_comment,)] = con.execute(
            "SELECT comment FROM duckdb_tables() WHERE schema_name = 'marts' "
            "AND table_name = 'dq_results'"
        ).fetchall()
        comments = dict(
            con.execute(
                "SELECT column_name, comment FROM duckdb_columns() WHERE schema_name = 'marts' "
                "AND table_name = 'dq_results'"
            ).fetchall()
        )
        [(rows,)] = con.execute("SELECT count(*) FROM marts.dq_results").fetchall()
    assert table_comment.startswith("Every check result of every run")
    assert comments == {name: comment for name, _, comment in COLUMNS}
    exported = exports_dir(workspace.serving_db) / "current"
    with duckdb.connect() as con:
        [(parquet_rows,)] = con.execute(
            f"SELECT count(*) FROM '{exported / 'dq_results.parquet'}'"
        ).fetchall()
    assert parquet_rows == rows
    assert (exported / "dq_results.csv").read_text("utf-8-sig").startswith("run_id;checked_at;")


def test_data_docs_name_each_suite(full_run):
    workspace, result = full_run
    docs = data_docs_dir(workspace.warehouse)
    index = (docs / "index.html").read_text("utf-8")
    for suite in SUITES:  # each suite's result of that run, under the run's id
        assert f"validations/{suite}/{result.run_id}/" in index, suite
        [page] = (docs / "validations" / suite / result.run_id).glob("*/all.html")
        assert suite in page.read_text("utf-8")
