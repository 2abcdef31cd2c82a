"""The whole graph through Dagster's Python API, on the bundled sample, in a temporary folder."""

import json

import duckdb
import pytest

from conftest import make_workspace, run_refresh

# Seed 004, "Kvalitet - Sammantagen nöjdhet enligt undersökning": (service, question) → 2020,
# 2022, 2023, as the board was shown them.
SEED_004 = {
    ("hemtjanst", "inflytande"): (90, 89, 89),
    ("hemtjanst", "bemotande"): (98, 98, 97),
    ("hemtjanst", "fortroende"): (90, 91, 90),
    ("hemtjanst", "helhetssyn"): (90, 91, 90),
    ("sarskilt_boende", "inflytande"): (85, 87, 82),
    ("sarskilt_boende", "bemotande"): (94, 94, 94),
    ("sarskilt_boende", "utomhus"): (73, 64, 66),
    ("sarskilt_boende", "helhetssyn"): (86, 81, 83),
}


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """One successful run on the sample; yields the workspace and the run's result."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        workspace = make_workspace(tmp_path_factory.mktemp("run"), monkeypatch, ("kolada",))
        result = run_refresh()
        yield workspace, result


def serving(workspace):
    return duckdb.connect(str(workspace.serving_db), read_only=True)


def test_run_succeeds_and_every_check_passes(published):
    _, result = published
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert {c.check_name for c in checks} >= {
        "gx_survey_results",
        "unique_combination_of_columns_survey_results_year__municipality_id__service__question_id",
    }
    assert all(c.passed for c in checks)


def test_mart_reproduces_seed_004_exactly(published):
    workspace, _ = published
    with serving(workspace) as con:
        rows = con.execute(
            "SELECT service, question_id, year, share_pct FROM marts.survey_results "
            "WHERE year IN (2020, 2022, 2023) AND municipality_id = '0188'"
        ).fetchall()
    got = {(service, question, year): float(share) for service, question, year, share in rows}
    expected = {
        (service, question, year): float(value)
        for (service, question), values in SEED_004.items()
        for year, value in zip((2020, 2022, 2023), values, strict=True)
    }
    assert len(expected) == 24
    assert got == expected


def test_2021_is_suppressed_never_zero(published):
    workspace, _ = published
    with serving(workspace) as con:
        rows = con.execute(
            "SELECT share_pct, share_women_pct, respondents, is_suppressed "
            "FROM marts.survey_results WHERE year = 2021"
        ).fetchall()
    assert len(rows) == 8
    assert rows == [(None, None, None, True)] * 8


def test_gender_split_respondents_and_lineage(published):
    workspace, _ = published
    with serving(workspace) as con:
        row = con.execute(
            "SELECT share_women_pct, share_men_pct, respondents, response_rate_pct, "
            "question_text, source_file_id FROM marts.survey_results "
            "WHERE year = 2022 AND service = 'hemtjanst' AND question_id = 'helhetssyn'"
        ).fetchone()
        # A suppressed gender cell (men, särskilt boende, utomhus 2023) stays null.
        [(men,)] = con.execute(
            "SELECT share_men_pct FROM marts.survey_results WHERE year = 2023 "
            "AND service = 'sarskilt_boende' AND question_id = 'utomhus'"
        ).fetchall()
    women, men_share, respondents, rate, text, file_id = row
    assert (float(women), float(men_share), respondents, float(rate)) == (92.0, 90.0, 398, 63.0)
    assert text.startswith("Hur nöjd eller missnöjd är du sammantaget")
    assert men is None
    with duckdb.connect(str(workspace.build_db), read_only=True) as con:
        [(name,)] = con.execute(
            "SELECT file_name FROM raw.load_log WHERE file_id = ?", [file_id]
        ).fetchall()
    assert name == "data_hemtjanst_0188_2020-2023_page2.json"


def test_serving_file_documents_its_columns_and_publication(published):
    workspace, result = published
    with serving(workspace) as con:
        [(run_id, tables)] = con.execute("SELECT run_id, tables FROM meta.publication").fetchall()
        [(comment,)] = con.execute(
            "SELECT comment FROM duckdb_columns() WHERE table_name = 'survey_results' "
            "AND column_name = 'is_suppressed'"
        ).fetchall()
    assert run_id == result.run_id
    assert tables == [
        "action_plans",
        "contract_followup",
        "cost_per_user",
        "finance_budget_outcome",
        "member_contributions",
        "provider_month",
        "reimbursement_control",
        "survey_results",
    ]
    assert comment == "True when no total share is published for this cell."


def test_second_run_adds_nothing(published, monkeypatch):
    workspace, _ = published
    monkeypatch.setenv("KSON_LANDING_DIR", str(workspace.landing))
    monkeypatch.setenv("KSON_WAREHOUSE", str(workspace.serving_db))
    with duckdb.connect(str(workspace.build_db), read_only=True) as con:
        before = con.execute("SELECT count(*) FROM raw.kolada_values").fetchall()
    result = run_refresh()
    assert result.success
    ingest = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key.path == ["raw", "kolada_values"]
    ]
    assert ingest[0].materialization.metadata["files_accepted"].value == 0
    with duckdb.connect(str(workspace.build_db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw.kolada_values").fetchall() == before
        assert con.execute("SELECT count(*) FROM raw.load_log").fetchall() == [(5,)]


def test_failed_check_blocks_publishing_and_keeps_old_marts(tmp_path, monkeypatch):
    workspace = make_workspace(tmp_path, monkeypatch, ("kolada",))
    assert run_refresh().success
    with serving(workspace) as con:
        before = con.execute("SELECT * FROM marts.survey_results ORDER BY ALL").fetchall()
    before_bytes = workspace.serving_db.read_bytes()

    # A later fetch with an impossible share: structurally valid Kolada, so it is loaded,
    # and the expectation suite on the mart must stop it from being published.
    page = workspace.landing / "kolada" / "data_hemtjanst_0188_2020-2023_page2.json"
    document = json.loads(page.read_text("utf-8"))
    cell = document["values"][-1]["values"][-1]
    assert cell["gender"] == "T"
    cell["value"] = 190.0
    (page.parent / "data_hemtjanst_0188_2020-2023_page2_refetched.json").write_text(
        json.dumps(document), "utf-8"
    )

    result = run_refresh()
    assert not result.success
    [failed] = [c for c in result.get_asset_check_evaluations() if not c.passed]
    assert failed.check_name == "gx_survey_results"
    assert "expect_column_values_to_be_between(column='share_pct'" in failed.description
    example = "year=2023, municipality_id=0188, service=hemtjanst, question_id=helhetssyn"
    assert f"{example}, share_pct=190.0" in failed.description
    assert not [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key.path == ["serving", "published_marts"]
    ]
    assert workspace.serving_db.read_bytes() == before_bytes
    with serving(workspace) as con:
        assert con.execute("SELECT * FROM marts.survey_results ORDER BY ALL").fetchall() == before


def test_failed_dbt_test_blocks_publishing(tmp_path, monkeypatch):
    workspace = make_workspace(tmp_path, monkeypatch, ("kolada",))
    # The second page of the paged hemtjänst response never arrived: each file is valid, but
    # the mart lacks questions for some years, which a dbt test on the mart catches.
    (workspace.landing / "kolada" / "data_hemtjanst_0188_2020-2023_page2.json").unlink()
    result = run_refresh()
    assert not result.success
    failed = [c for c in result.get_asset_check_evaluations() if not c.passed]
    assert [c.check_name for c in failed] == ["assert_survey_results_complete"]
    assert failed[0].asset_key.path == ["marts", "survey_results"]
    assert not workspace.serving_db.exists()
