"""Small cells: the marts flag rows whose figures are about 1–4 persons (``is_small_cell``).
The boundary 4/5 is tested by dbt unit tests (run by every dbt build; here also alone, on a
copy of the session's sample warehouse, and seen to fail when the threshold moves); the
sample marts carry the flag as the rule says."""

import json
import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

import duckdb
import pytest

from conftest import stale_marts
from orchestration.resources import DBT_EXECUTABLE, DBT_PROJECT_DIR

UNIT_TESTS = {
    "provider_month": "provider_month_small_cells",
    "survey_results": "survey_results_small_cells",
    "cost_per_user": "cost_per_user_small_cells",
    "indicator_values": "indicator_values_small_cells",
}


@pytest.fixture(scope="module")
def build_copy(full_run, tmp_path_factory) -> Path:
    workspace, _ = full_run
    target = tmp_path_factory.mktemp("small_cells") / "build.duckdb"
    shutil.copyfile(workspace.build_db, target)
    return target


def unit_test_results(
    build_db: Path, folder: Path, names: Iterable[str] = UNIT_TESTS.values(), **variables
) -> dict[str, str]:
    """``dbt test`` of the unit tests ``names`` (the small-cell ones by default) on
    ``build_db`` with the dbt vars ``variables``: {unit test name: status}."""
    selection = [f"unit_test:{name}" for name in names]
    subprocess.run(
        [
            str(DBT_EXECUTABLE),
            "test",
            "--select",
            *selection,
            "--vars",
            json.dumps(variables),
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(folder / "target"),
            "--log-path",
            str(folder / "logs"),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "KSON_BUILD_DB": str(build_db)},
    )
    results = json.loads((folder / "target" / "run_results.json").read_text("utf-8"))["results"]
    return {r["unique_id"].rsplit(".", 1)[-1]: r["status"] for r in results}


def test_unit_tests_pass_at_5_and_fail_when_the_threshold_moves(full_run, build_copy, tmp_path):
    # They passed in the session's run: dbt build skips a model whose unit test fails.
    workspace, _ = full_run
    assert not set(UNIT_TESTS) & set(stale_marts(workspace))
    # At 4, the rows about 4 persons (4.9 on average) are no longer flagged: every test fails.
    moved = unit_test_results(build_copy, tmp_path, small_cell_threshold=4)
    assert moved == dict.fromkeys(UNIT_TESTS.values(), "fail")


def test_sample_marts_flag_rows_about_fewer_than_5_persons(full_run):
    workspace, _ = full_run
    with duckdb.connect(str(workspace.serving_db), read_only=True) as con:
        # Every row of every mart with persons is flagged exactly when a count is 1-4.
        mismatches = {
            mart: con.execute(
                f"SELECT count(*) FROM marts.{mart} WHERE is_small_cell IS DISTINCT FROM "
                f"coalesce({rule}, false)"
            ).fetchone()[0]
            for mart, rule in {
                "provider_month": "users BETWEEN 1 AND 4 OR visit_users BETWEEN 1 AND 4",
                "survey_results": "respondents BETWEEN 1 AND 4",
                "cost_per_user": "average_users > 0 AND average_users < 5",
                "indicator_values": "persons > 0 AND persons < 5",
            }.items()
        }
        [(small, large)] = con.execute(
            "SELECT count(*) FILTER (WHERE is_small_cell), count(*) FILTER (WHERE users >= 5 "
            "AND NOT is_small_cell) FROM marts.provider_month"
        ).fetchall()
        comments = con.execute(
            "SELECT table_name, comment FROM duckdb_columns() "
            "WHERE schema_name = 'marts' AND column_name = 'is_small_cell' ORDER BY 1"
        ).fetchall()
    assert mismatches == dict.fromkeys(UNIT_TESTS, 0)
    assert small > 0 and large > 0
    assert [table for table, _ in comments] == sorted(UNIT_TESTS)
    assert all("docs/small_cells.md" in comment for _, comment in comments)
