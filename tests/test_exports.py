"""Exports of the published marts (orchestration/exports.py): Parquet and an Excel-friendly CSV
per mart under warehouse/exports/<publication>/, behind the link exports/current. Read from
the session's sample run, and from publishes of its marts with planted values."""

import csv
import json
from pathlib import Path

import duckdb
import pytest

from orchestration.exports import suppressed_columns, write_exports
from orchestration.publishing import Verdict, exports_dir, publish_marts
from orchestration.resources import dbt_project

FORMULAS = ["=cmd|' /C calc'!A0", "@SUM(1)", "-x", "\tx", "+SUM(1)", "\rx"]
PM_KEY = ("report_month", "provider_org_nr", "area_code", "unit_id")


@pytest.fixture(scope="module")
def suppression() -> dict:
    return suppressed_columns(json.loads(dbt_project.manifest_path.read_text("utf-8")))


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def serving_rows(database: Path, sql: str) -> list[dict]:
    with duckdb.connect(str(database), read_only=True) as con:
        cursor = con.execute(sql)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def parquet_rows(path: Path, where: str) -> list[dict]:
    with duckdb.connect() as con:
        cursor = con.execute(f"SELECT * FROM read_parquet('{path}') WHERE {where}")
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_the_publish_step_exports_every_published_mart_in_swedish_excel_csv(full_run):
    workspace, _ = full_run
    serving = workspace.serving_db
    current = exports_dir(serving) / "current"
    assert current.is_symlink()
    assert current.resolve().name == serving.resolve().stem.removeprefix("kson-")
    with duckdb.connect(str(serving), read_only=True) as con:
        marts = [
            m
            for (m,) in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts'"
            ).fetchall()
        ]
        rows = {m: con.execute(f"SELECT count(*) FROM marts.{m}").fetchone()[0] for m in marts}
        columns = {
            m: [d[0] for d in con.execute(f"SELECT * FROM marts.{m} LIMIT 0").description]
            for m in marts
        }
    assert sorted(path.name for path in current.iterdir()) == sorted(
        f"{m}.{ext}" for m in marts for ext in ("csv", "parquet")
    )
    for mart in marts:
        data = (current / f"{mart}.csv").read_bytes()
        assert data.startswith(b"\xef\xbb\xbf" + ";".join(columns[mart]).encode() + b"\n")
        assert len(read_csv(current / f"{mart}.csv")) == rows[mart]
        assert len(parquet_rows(current / f"{mart}.parquet", "true")) == rows[mart]

    # A known value: decimal comma, ISO date, booleans as in the mart.
    [row] = serving_rows(
        serving,
        "SELECT * FROM marts.provider_month WHERE NOT is_small_cell AND granted_hours % 1 <> 0 "
        "ORDER BY ALL LIMIT 1",
    )
    [exported] = [
        r
        for r in read_csv(current / "provider_month.csv")
        if tuple(r[k] for k in PM_KEY) == tuple(str(row[k]) for k in PM_KEY)
    ]
    assert exported["granted_hours"] == str(row["granted_hours"]).replace(".", ",")
    assert "," in exported["granted_hours"]
    assert exported["report_month"] == row["report_month"].isoformat()
    assert exported["is_small_cell"] == "false"
    assert exported["users"] == str(row["users"])


@pytest.fixture(scope="module")
def planted_build(full_run, tmp_path_factory) -> Path:
    """The sample's published marts, as a build database, with planted rows: formula
    texts in unit_name, a small cell per flagged mart, a negative decimal."""
    workspace, _ = full_run
    build = tmp_path_factory.mktemp("exports") / "build.duckdb"
    with duckdb.connect(str(build)) as con:
        con.execute(f"ATTACH '{workspace.serving_db.resolve()}' AS sample (READ_ONLY)")
        con.execute("CREATE SCHEMA marts")
        for (mart,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'sample' "
            "AND schema_name = 'marts'"
        ).fetchall():
            con.execute(f"CREATE TABLE marts.{mart} AS SELECT * FROM sample.marts.{mart}")
        con.execute("DETACH sample")
        rows = con.execute(
            "SELECT rowid FROM marts.provider_month WHERE NOT is_small_cell "
            "AND granted_hours IS NOT NULL ORDER BY rowid LIMIT ?",
            [len(FORMULAS) + 1],
        ).fetchall()
        for (row,), text in zip(rows, FORMULAS, strict=False):
            con.execute(
                "UPDATE marts.provider_month SET unit_name = ? WHERE rowid = ?", [text, row]
            )
        con.execute(
            "UPDATE marts.provider_month SET performed_hours_difference = -1.5 WHERE rowid = ?",
            rows[0],
        )
        con.execute(
            "UPDATE marts.provider_month SET is_small_cell = true WHERE rowid = ?", rows[-1]
        )
        con.execute(
            "UPDATE marts.survey_results SET is_small_cell = true, respondents = 4 WHERE rowid = "
            "(SELECT min(rowid) FROM marts.survey_results WHERE share_pct IS NOT NULL)"
        )
        con.execute(
            "UPDATE marts.cost_per_user SET is_small_cell = true WHERE rowid = "
            "(SELECT min(rowid) FROM marts.cost_per_user c WHERE cost_per_user IS NOT NULL "
            "AND EXISTS (SELECT 1 FROM marts.cost_per_user n WHERE n.service = c.service "
            "AND n.year = c.year + 1 AND n.cost_per_user IS NOT NULL))"
        )
        con.execute(
            "UPDATE marts.indicator_values SET is_small_cell = true, persons = 4 WHERE rowid = "
            "(SELECT min(rowid) FROM marts.indicator_values i WHERE value IS NOT NULL "
            "AND EXISTS (SELECT 1 FROM marts.indicator_values n WHERE n.indicator_id = "
            "i.indicator_id AND n.reporting_year = i.reporting_year + 1 AND n.value IS NOT NULL))"
        )
    return build


@pytest.fixture(scope="module")
def planted(planted_build, suppression, tmp_path_factory) -> tuple[Path, Path]:
    """(serving link, exports folder) of a publish of the planted marts."""
    serving = tmp_path_factory.mktemp("planted") / "kson.duckdb"
    with duckdb.connect(str(planted_build), read_only=True) as con:
        marts = [m for (m,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
    publication = publish_marts(
        planted_build, serving, [Verdict(m) for m in marts], "v1.2.0", exports=suppression
    )
    return serving, exports_dir(serving) / publication.id


def test_text_that_a_spreadsheet_would_run_gets_a_leading_quote_numbers_stay(planted):
    serving, folder = planted
    exported = read_csv(folder / "provider_month.csv")
    names = {r["unit_name"] for r in exported}
    assert {"'" + text for text in FORMULAS} <= names
    assert not set(FORMULAS) & names
    assert not any(name.startswith(tuple("=+-@\t\r")) for name in names)
    # Parquet keeps the text as published; a negative number stays a number in the CSV.
    assert set(FORMULAS) <= {
        r["unit_name"] for r in parquet_rows(folder / "provider_month.parquet", "true")
    }
    [negative] = [r for r in exported if r["unit_name"] == "'" + FORMULAS[0]]
    assert negative["performed_hours_difference"] == "-1,50"


def test_small_cells_have_their_figures_empty_in_both_exports_and_kept_in_serving(
    planted, suppression
):
    serving, folder = planted
    for mart, hidden in suppression.items():
        small = serving_rows(serving, f"SELECT * FROM marts.{mart} WHERE is_small_cell")
        assert small, f"no small cell planted in {mart}"
        assert any(row[c] is not None for row in small for c in hidden), mart  # serving keeps
        for row in parquet_rows(folder / f"{mart}.parquet", "is_small_cell"):
            assert {c: row[c] for c in hidden} == dict.fromkeys(hidden), mart
        csv_small = [r for r in read_csv(folder / f"{mart}.csv") if r["is_small_cell"] == "true"]
        assert len(csv_small) == len(small)
        for row in csv_small:
            assert {c: row[c] for c in hidden} == dict.fromkeys(hidden, ""), mart
    for row in read_csv(folder / "provider_month.csv"):
        if row["is_small_cell"] == "true":  # the row stays: keys and names
            assert row["report_month"] and row["unit_id"] and row["unit_name"]

    # The year after a small one: its own cost per user shown, not the small year's.
    [after] = serving_rows(
        serving,
        "SELECT n.* FROM marts.cost_per_user n JOIN marts.cost_per_user s "
        "ON s.service = n.service AND s.year = n.year - 1 WHERE s.is_small_cell",
    )
    [exported] = parquet_rows(
        folder / "cost_per_user.parquet",
        f"service = '{after['service']}' AND year = {after['year']}",
    )
    assert exported["cost_per_user"] == after["cost_per_user"] is not None
    assert exported["cost_per_user_previous_year"] is None
    assert exported["cost_per_user_change_pct"] is None
    assert after["cost_per_user_previous_year"] is not None
    # The same for a board indicator: its change and status would show the small year's value.
    [after] = serving_rows(
        serving,
        "SELECT n.* FROM marts.indicator_values n JOIN marts.indicator_values s "
        "ON s.indicator_id = n.indicator_id AND s.reporting_year = n.reporting_year - 1 "
        "WHERE s.is_small_cell",
    )
    [exported] = parquet_rows(
        folder / "indicator_values.parquet",
        f"indicator_id = '{after['indicator_id']}' AND reporting_year = {after['reporting_year']}",
    )
    assert exported["value"] == after["value"] is not None
    assert (exported["previous_value"], exported["change"], exported["status"]) == (None,) * 3


def test_a_mart_with_small_cells_but_no_column_to_suppress_is_not_exported(planted, tmp_path):
    serving, _ = planted
    with pytest.raises(ValueError, match=r"marts\.cost_per_user has is_small_cell but no column"):
        write_exports(serving.resolve(), tmp_path / "out", {"provider_month": {"users": None}})


def test_exports_current_follows_the_serving_link_and_old_folders_are_pruned(
    planted_build, suppression, tmp_path
):
    serving = tmp_path / "warehouse" / "kson.duckdb"
    exports = exports_dir(serving)
    verdicts = [Verdict("survey_results"), Verdict("action_plans")]
    first = publish_marts(planted_build, serving, verdicts, "v1.2.0", keep=2, exports=suppression)
    # What an export killed mid-way leaves: a staged folder and a link not yet renamed.
    leftovers = [exports / ".20990101T000000000000Z-abcdef.exporting", exports / ".current.0a.link"]
    leftovers[0].mkdir()
    (leftovers[0] / "survey_results.csv").write_bytes(b"partial")
    leftovers[1].symlink_to(first.id)
    later = [
        publish_marts(planted_build, serving, verdicts, "v1.2.0", keep=2, exports=suppression)
        for _ in range(2)
    ]
    assert not any(path.exists() or path.is_symlink() for path in leftovers)
    assert (exports / "current").resolve() == exports / later[-1].id
    assert serving.resolve() == later[-1].path
    assert sorted(path.name for path in exports.iterdir()) == sorted(
        ["current", *(p.id for p in later)]
    )
    assert sorted(path.name for path in (exports / "current").iterdir()) == [
        "action_plans.csv",
        "action_plans.parquet",
        "survey_results.csv",
        "survey_results.parquet",
    ]
