"""The board report (orchestration/report.py): written by the run after the publish step,
opened in a real headless Chromium (Debian's ``chromium``), self-contained, small cells
withheld, texts escaped; ``kson report`` prints its path."""

import csv
import html
import json
import re
import subprocess
from pathlib import Path

import duckdb
import pytest
from dagster import materialize

from conftest import REPO_ROOT
from orchestration.cli import main
from orchestration.exports import suppressed_columns
from orchestration.publishing import Verdict, publish_marts
from orchestration.report import SMALL, report_link, reports_dir, write_report
from orchestration.resources import WarehouseResource, dbt_project

CHROMIUM = Path("/usr/bin/chromium")
CATALOG = REPO_ROOT / "dbt_project" / "seeds" / "indicators" / "indicator_catalog.csv"
INJECTED = '<script>alert("x")</script> & <b>fet</b>'


@pytest.fixture(scope="module")
def suppression() -> dict:
    return suppressed_columns(json.loads(dbt_project.manifest_path.read_text()))


@pytest.fixture(scope="module")
def report(full_run) -> Path:
    workspace, _ = full_run
    return report_link(workspace.serving_db)


def rendered(page: Path, folder: Path) -> tuple[str, Path]:
    """(the text Chromium rendered, its screenshot) of ``page``, opened offline."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"needs Debian's chromium at {CHROMIUM}: `make test` installs it as root with "
            "apt-get (apt-get install chromium)"
        )
    flags = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={folder / 'profile'}",
    ]
    screenshot = folder / "report.png"
    url = page.resolve().as_uri()
    subprocess.run(
        [*flags, f"--screenshot={screenshot}", "--window-size=1280,4000", url],
        capture_output=True,
        check=True,
        timeout=120,
    )
    dom = subprocess.run(
        [*flags, "--dump-dom", url], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    dom = re.sub(r"<style.*?</style>", " ", dom, flags=re.S)
    text = html.unescape(re.sub(r"<[^>]+>", " ", dom))
    return re.sub(r"[ \t\r\n]+", " ", text), screenshot  # the narrow no-break spaces stay


def shown(value: float, decimals: int = 0, unit: str = "") -> str:
    """A figure as a Swedish reader sees it (narrow no-break space, decimal comma)."""
    text = f"{value:,.{decimals}f}".replace(",", "\u202f").replace(".", ",")
    return f"{text} {unit}".strip()


def serving_rows(serving: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(serving), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_the_run_writes_the_report_after_publishing_beside_the_serving_file(full_run, report):
    workspace, result = full_run
    steps = [event.step_key for event in result.all_events if event.is_step_start]
    assert steps[-2:] == ["serving__published_marts.publish", "serving__board_report"]
    version = workspace.serving_db.resolve().name.removeprefix("kson-").removesuffix(".duckdb")
    assert report.is_symlink()
    assert report.resolve() == reports_dir(workspace.serving_db) / f"kson-report-{version}.html"


def test_the_report_needs_no_network_and_escapes_no_markup_of_its_own(report):
    page = report.read_text("utf-8")
    assert "<svg" in page  # the survey's trend charts, inline
    for fetched in ("<script", "<link", "<img", "<iframe", "src=", "url(", "@import"):
        assert fetched not in page
    # the only addresses are SVG's XML namespaces, which nothing fetches
    assert set(re.findall(r"https?://[^\"' )]+", page)) <= {
        "http://www.w3.org/2000/svg",
        "http://www.w3.org/1999/xlink",
    }


def test_chromium_renders_the_key_figures(full_run, report, tmp_path):
    workspace, _ = full_run
    text, screenshot = rendered(report, tmp_path)
    assert screenshot.stat().st_size > 50_000  # a page of tables and charts, not a blank one
    serving = workspace.serving_db
    # seed 004: Hemtjänsten i sin helhet 91 % in 2022, as the board's table says
    [(share,)] = serving_rows(
        serving,
        "SELECT share_pct FROM marts.survey_results WHERE service = 'hemtjanst' "
        "AND question_id = 'helhetssyn' AND year = 2022",
    )
    assert share == 91
    assert "Hemtjänsten i sin helhet" in text and "91 %" in text
    for year, result in serving_rows(serving, "SELECT year, result FROM marts.annual_result"):
        assert f"{year} {shown(float(result) / 1e6, 1, 'mnkr')}" in text
    for member, booked in serving_rows(
        serving,
        "SELECT member_name, contribution_booked FROM marts.member_contributions "
        "WHERE year = 2023 AND contribution = 'medlemsbidrag'",
    ):
        assert f"2023 {member} medlemsbidrag {shown(float(booked) / 1e6, 1, 'mnkr')}" in text
    [(plan, comment)] = serving_rows(
        serving,
        "SELECT plan_id, latest_comment FROM marts.action_plans WHERE is_open "
        "ORDER BY plan_id LIMIT 1",
    )
    assert plan in text and comment in text
    [(cost,)] = serving_rows(
        serving,
        "SELECT cost_per_user FROM marts.cost_per_user WHERE service = 'hemtjanst' AND year = 2023",
    )
    assert shown(float(cost), 0, "kr") in text
    # Kolada: Norrtälje's cost per home-care user against the county and its group
    [(year, value, rank, of, group_mean, title)] = serving_rows(
        serving,
        "SELECT year, value, county_rank, county_municipalities, elderly_care_group_mean, "
        "elderly_care_group_title FROM marts.kpi_benchmark WHERE kpi_id = 'N21006' "
        "AND is_followed_up AND year = 2022",
    )
    assert f"{year} {shown(value)} " in text and f" {rank} av {of} " in text
    assert f"{title}, medel" in text and shown(group_mean) in text


def test_chromium_shows_every_indicator_of_the_catalog(full_run, report, tmp_path):
    with CATALOG.open(encoding="utf-8") as catalog:
        names = [row["name_sv"] for row in csv.DictReader(catalog)]
    assert len(names) == 20
    text, _ = rendered(report, tmp_path)
    missing = [name for name in names if name not in text]
    assert not missing, f"indicators not in the report: {missing}"


@pytest.fixture(scope="module")
def planted(full_run, tmp_path_factory) -> tuple[Path, Path, list[str]]:
    """A publication of the sample's marts with planted rows: a small cell in survey_results,
    cost_per_user and indicator_values, markup in an action plan's comment; published twice,
    the second time with contract_followup stale and without member_contributions: (serving
    link, build database, marts)."""
    workspace, _ = full_run
    build = tmp_path_factory.mktemp("report_build") / "build.duckdb"
    with duckdb.connect(str(build)) as con:
        con.execute(f"ATTACH '{workspace.serving_db.resolve()}' AS sample (READ_ONLY)")
        con.execute("CREATE SCHEMA marts")
        marts = [
            mart
            for (mart,) in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = 'sample' "
                "AND schema_name = 'marts'"
            ).fetchall()
        ]
        for mart in marts:
            con.execute(f"CREATE TABLE marts.{mart} AS SELECT * FROM sample.marts.{mart}")
        con.execute(
            "UPDATE marts.survey_results SET is_small_cell = true, respondents = 4, "
            "share_pct = 77.7 WHERE service = 'sarskilt_boende' AND question_id = 'utomhus' "
            "AND year = 2023"
        )
        con.execute(
            "UPDATE marts.cost_per_user SET is_small_cell = true, cost_per_user = 123457 "
            "WHERE service = 'lss_boende' AND year = 2023"
        )
        con.execute(
            "UPDATE marts.indicator_values SET is_small_cell = true, value = 42.4 "
            "WHERE indicator_id = 'I06' AND reporting_year = 2023"
        )
        con.execute(
            "UPDATE marts.action_plans SET latest_comment = ? WHERE plan_id = "
            "(SELECT min(plan_id) FROM marts.action_plans WHERE is_open)",
            [INJECTED],
        )
    serving = tmp_path_factory.mktemp("report_serving") / "kson.duckdb"
    publish_marts(build, serving, [Verdict(mart) for mart in marts], "v1.2.0")
    publish_marts(
        build,
        serving,
        [
            Verdict(mart, reason="failed: a planted check" if mart == "contract_followup" else None)
            for mart in marts
            if mart != "member_contributions"
        ],
        "v1.2.0",
    )
    return serving, build, marts


def test_a_small_cell_is_never_shown_and_markup_stays_text(planted, suppression):
    page = write_report(planted[0], suppression).read_text("utf-8")
    assert "77,7" not in page and "123\u202f457" not in page
    row = re.search(r"Sociala aktiviteter.*?</tr>", page, flags=re.S).group(0)
    assert SMALL in row  # the 2023 cell says why it is empty, never 0
    lss = re.search(r"Bostad med särskild service LSS.*?</tr>", page, flags=re.S).group(0)
    assert SMALL in lss
    lss_decisions = re.search(r"Andel verkställda beslut i bostad.*?</tr>", page, flags=re.S)
    assert SMALL in lss_decisions.group(0) and "42,4" not in lss_decisions.group(0)
    assert "<script>alert" not in page and "<b>fet</b>" not in page
    assert html.escape(INJECTED, quote=False) in page.replace("&#34;", '"')


def test_a_stale_or_missing_mart_is_named_in_its_section(planted, suppression):
    page = html.unescape(write_report(planted[0], suppression).read_text("utf-8"))
    assert "Inaktuell: marts.contract_followup visar sin senast godkända version" in page
    assert "failed: a planted check" in page
    assert "Uppgifterna finns inte i den publicerade filen ännu (marts.member_contributions)" in (
        page
    )
    assert "KSON:s årsresultat" in page  # the rest of its section is there


def test_reports_go_with_their_serving_versions(planted, suppression, tmp_path):
    serving, build, marts = planted
    serving = tmp_path / "kson.duckdb"
    written = []
    for _ in range(4):  # KSON_SERVING_KEEP's default, 3: the first version is pruned
        publish_marts(build, serving, [Verdict(mart) for mart in marts], "v1.2.0")
        written.append(write_report(serving, suppression))
    assert [path.exists() for path in written] == [False, True, True, True]
    assert report_link(serving).resolve() == written[-1]
    hidden = [path.name for path in reports_dir(serving).iterdir() if path.name[0] == "."]
    assert hidden == [".charts"]  # no leftover of writing a report or its link


def test_a_chart_is_drawn_again_only_when_its_data_changed(planted, suppression, tmp_path):
    serving, build, marts = planted
    serving = tmp_path / "kson.duckdb"
    publish_marts(build, serving, [Verdict(mart) for mart in marts], "v1.2.0")
    first = write_report(serving, suppression).read_text("utf-8")
    charts = reports_dir(serving) / ".charts"
    drawn = sorted(charts.iterdir())
    assert drawn and all(path.suffix == ".svg" for path in drawn)
    assert all(path.read_text("utf-8") in first for path in drawn)
    # The next report takes each chart from the cache (marked here), and keeps only its own.
    for path in drawn:
        path.write_text(path.read_text("utf-8").replace("<svg", "<svg data-cached", 1))
    (charts / f"{0:064}.svg").write_text("<svg>a chart of an older report</svg>")
    publish_marts(build, serving, [Verdict(mart) for mart in marts], "v1.2.0")
    second = write_report(serving, suppression).read_text("utf-8")
    assert second.count("<svg data-cached") == second.count("<svg") == first.count("<svg")
    assert sorted(charts.iterdir()) == drawn


def test_kson_report_prints_the_report_path(full_run, report, monkeypatch, capsys):
    workspace, _ = full_run
    monkeypatch.setenv("KSON_WAREHOUSE", str(workspace.serving_db))
    assert main(["report"]) == 0
    assert capsys.readouterr().out.strip() == str(report)


def test_kson_report_says_when_the_report_is_of_an_earlier_publication(
    planted, suppression, tmp_path, monkeypatch, capsys
):
    _, build, marts = planted
    serving = tmp_path / "kson.duckdb"
    publish_marts(build, serving, [Verdict(mart) for mart in marts], "v1.2.0")
    written = write_report(serving, suppression)
    later = publish_marts(build, serving, [Verdict(mart) for mart in marts], "v1.2.0")
    monkeypatch.setenv("KSON_WAREHOUSE", str(serving))
    assert main(["report"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == str(report_link(serving)) and report_link(serving).resolve() == written
    assert f"the serving file of {later.id} (the last report step failed" in err


def test_kson_report_says_when_there_is_none(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KSON_WAREHOUSE", str(tmp_path / "kson.duckdb"))
    assert main(["report"]) == 1
    error = capsys.readouterr().err
    assert f"kson report: no report yet ({tmp_path / 'reports' / 'report.html'}" in error


def test_a_report_that_cannot_be_written_fails_its_step(tmp_path):
    from orchestration.assets.report import board_report

    warehouse = WarehouseResource(
        landing_dir=str(tmp_path / "landing"),
        build_db=str(tmp_path / "build.duckdb"),
        serving_db=str(tmp_path / "kson.duckdb"),
    )
    result = materialize([board_report], resources={"warehouse": warehouse}, raise_on_error=False)
    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    message = failure.step_failure_data.error.cause or failure.step_failure_data.error
    assert f"no published serving version at {tmp_path / 'kson.duckdb'}" in message.message
    assert not (tmp_path / "reports" / "report.html").exists()
