"""The incremental visit aggregate (int_visits_file_monthly) against a full refresh on the
same raw rows after a new monthly file and a withdrawal, and the month rule: for each month,
the latest loaded file holding visits in that month counts."""

import subprocess
from pathlib import Path

import duckdb
import pytest

from ingest.landing import FileStore, load_family
from ingest.registry import FAMILIES
from ingest.withdrawal import withdraw
from orchestration.resources import DBT_EXECUTABLE, DBT_PROJECT_DIR
from sample_data.providers import generate

MODELS = "stg_providers__visits int_visits_file_monthly int_visits_monthly"


@pytest.fixture(scope="module")
def year_2022(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    out = tmp_path_factory.mktemp("providers")
    generate(out, scale=0.01, years=(2022,))
    return (out / "visit_logs" / "visits_2022.csv").read_text("utf-8").splitlines()


def test_incremental_build_equals_full_refresh(tmp_path: Path, year_2022: list[str]):
    header, rows = year_2022[0], year_2022[1:]

    def months(*numbers: int) -> list[str]:
        return [r for r in rows if int(r.split(",")[5][5:7]) in numbers]

    store = FileStore(tmp_path / "landing", tmp_path / "archive", tmp_path / "quarantine")
    folder = store.landing_dir / "visit_logs"
    folder.mkdir(parents=True)
    build_db = tmp_path / "kson_build.duckdb"

    def land(name: str, lines: list[str]) -> None:
        (folder / name).write_text("\n".join([header, *lines]) + "\n", "utf-8")
        with duckdb.connect(str(build_db)) as con:
            assert load_family(con, FAMILIES["visit_logs"], store).quarantined == []

    def dbt_run(*extra: str) -> dict[str, list[tuple]]:
        subprocess.run(
            [str(DBT_EXECUTABLE), "run", "--quiet", "--select", *MODELS.split(), *extra]
            + ["--target-path", str(tmp_path / "target")]
            + ["--log-path", str(tmp_path / "logs")],
            cwd=DBT_PROJECT_DIR,
            check=True,
            env={
                "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
                "PATH": "/usr/bin:/bin",
                "KSON_BUILD_DB": str(build_db),
            },
        )
        with duckdb.connect(str(build_db), read_only=True) as con:
            return {
                model: con.execute(f"SELECT * FROM intermediate.{model} ORDER BY ALL").fetchall()
                for model in ("int_visits_file_monthly", "int_visits_monthly")
            }

    land("visits_2022.csv", months(1, 2, 3))  # file 1: a year so far
    land("visits_2022-03.csv", months(3)[:-5])  # file 2: March again, five visits fewer
    assert per_month(dbt_run()) == {  # a later monthly file replaces its month
        "2022-01": len(months(1)),
        "2022-02": len(months(2)),
        "2022-03": len(months(3)) - 5,
    }
    land("visits_2022-04.csv", months(4))  # file 3: a new month
    with duckdb.connect(str(build_db)) as con:
        withdraw(con, 2, "March was sent again by mistake")
    incremental = dbt_run()
    assert incremental == dbt_run("--full-refresh")

    # March from the yearly file again (the monthly one is withdrawn), April from its own
    assert per_month(incremental) == {
        "2022-01": len(months(1)),
        "2022-02": len(months(2)),
        "2022-03": len(months(3)),
        "2022-04": len(months(4)),
    }
    held = {row[0] for row in incremental["int_visits_file_monthly"]}
    assert held == {1, 3}  # the withdrawn file's aggregates left


def per_month(built: dict[str, list[tuple]]) -> dict[str, int]:
    """Visits per month (YYYY-MM) in int_visits_monthly."""
    visits: dict[str, int] = {}
    for _, _, month, count, *_ in built["int_visits_monthly"]:
        visits[f"{month:%Y-%m}"] = visits.get(f"{month:%Y-%m}", 0) + count
    return visits
