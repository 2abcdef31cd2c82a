"""The sample-data generator for providers' reports: calibrated figures, formats, determinism.

The figures are computed from the generated files the way a reader would (fastexcel for xlsx,
the csv module for the Swedish Excel CSV exports, duckdb for the visit logs), not from the
generator's internals.
"""

from __future__ import annotations

import csv
import io
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import fastexcel
import polars as pl
import pytest
from stdnum.se import orgnr

from sample_data import providers as gen

REPO = Path(__file__).resolve().parents[1]

SCALE = 0.01
YEARS = (2022, 2023, 2024)
FILE_NAME = re.compile(r"^(\d{10})_([A-Z0-9]+)_(\d{4}-\d{2})(?:_v(\d+))?\.(xlsx|csv)$")
HEADER_LABELS = {
    "Organisationsnummer": "org_nr",
    "Vårdgivare": "provider_name",
    "Avtalsområde": "area_code",
    "Period": "period",
}
COLUMNS = {
    "Enhets-id": ("unit_id", pl.String),
    "Enhetsnamn": ("unit_name", pl.String),
    "Antal brukare": ("users", pl.Int64),
    "Beviljade timmar": ("granted_hours", pl.Float64),
    "Utförda timmar": ("performed_hours", pl.Float64),
    "Brukare med aktuell genomförandeplan": ("users_with_care_plan", pl.Int64),
    "Personalkontinuitet": ("staff_continuity", pl.Float64),
    "Avvikelser fall": ("incidents_falls", pl.Int64),
    "Avvikelser läkemedel": ("incidents_medication", pl.Int64),
    "Avvikelser övriga": ("incidents_other", pl.Int64),
    "Ej verkställda beslut": ("unexecuted_decisions", pl.Int64),
}
# Personal identity number (YYMMDD-NNNN, YYYYMMDD-NNNN, +, samordningsnummer day + 60).
PNR = re.compile(
    r"(?<!\d)(?:\d{2})?\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]|6[1-9]|[78]\d|9[01])"
    r"[-+]?\d{4}(?!\d)"
)


def pct(numerator: float, denominator: float) -> int:
    value = Decimal(repr(float(numerator))) * 100 / Decimal(repr(float(denominator)))
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


# ------------------------------------------------------------------------------ a tiny reader
def _rows(path: Path) -> list[list[str | None]]:
    if path.suffix == ".xlsx":
        sheet = fastexcel.read_excel(path).load_sheet_by_name(
            "Rapport", header_row=None, dtypes="string"
        )
        return [list(r) for r in sheet.to_polars().rows()]
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")
    rows = []
    for row in csv.reader(io.StringIO(text, newline=""), delimiter=";"):
        rows.append(
            [
                (cell.replace(",", ".") if re.fullmatch(r"-?\d+,\d+", cell) else cell) or None
                for cell in row
            ]
        )
    return rows


def read_report(path: Path) -> tuple[dict[str, str], pl.DataFrame]:
    """Header block (label in A, value in B) up to the first empty row, then the table."""
    rows = _rows(path)
    empty = [all(c in (None, "") for c in row) for row in rows]
    split = empty.index(True)
    header = {HEADER_LABELS[r[0].strip()]: str(r[1]).strip() for r in rows[:split]}
    body = [r for r, e in zip(rows[split:], empty[split:], strict=True) if not e]
    names = [str(c).strip() for c in body[0] if c not in (None, "")]
    data = {COLUMNS[n][0]: [r[i] for r in body[1:]] for i, n in enumerate(names)}
    frame = pl.DataFrame(data, schema={v[0]: pl.String for v in COLUMNS.values()})
    frame = frame.with_columns(
        pl.col(name).cast(pl.Float64).cast(dtype) if dtype == pl.Int64 else pl.col(name).cast(dtype)
        for name, dtype in COLUMNS.values()
    )
    return header, frame


def read_all_reports(out: Path) -> pl.DataFrame:
    frames = []
    for path in sorted((out / "provider_reports").rglob("*.*")):
        match = FILE_NAME.match(path.name)
        assert match, path.name
        header, frame = read_report(path)
        assert header["org_nr"].replace("-", "") == match[1]
        assert header["area_code"] == match[2] and header["period"] == match[3]
        frames.append(
            frame.with_columns(
                pl.lit(header["org_nr"]).alias("org_nr"),
                pl.lit(header["area_code"]).alias("area_code"),
                pl.lit(header["period"]).alias("period"),
                pl.lit(int(match[4] or 1)).alias("version"),
                pl.lit(path.name).alias("file"),
            )
        )
    return pl.concat(frames)


def latest(reports: pl.DataFrame) -> pl.DataFrame:
    """The rule: the latest version of a report (org nr, area, period) replaces the earlier."""
    key = ["org_nr", "area_code", "period"]
    return reports.filter(pl.col("version") == pl.col("version").max().over(key))


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sample")
    summary = gen.generate(folder, scale=SCALE, years=YEARS)
    assert summary["files"]["visit_logs"] == 3
    return folder


@pytest.fixture(scope="module")
def reports(out) -> pl.DataFrame:
    return read_all_reports(out)


@pytest.fixture(scope="module")
def registers() -> dict[str, pl.DataFrame]:
    return {
        name: pl.read_csv(REPO / "dbt_project" / "seeds" / f"{name}.csv", infer_schema=False)
        for name in ("contract_areas", "providers")
    }


# ------------------------------------------------------------------------------ registers
def test_committed_registers_and_template_match_the_generator(tmp_path, registers):
    gen.write_registers(tmp_path)
    for name in ("contract_areas", "providers"):
        committed = (REPO / "dbt_project" / "seeds" / f"{name}.csv").read_bytes()
        assert (tmp_path / f"{name}.csv").read_bytes() == committed, name
    template = gen.write_template(tmp_path / "t.xlsx")
    assert (
        template.read_bytes() == (REPO / "data/templates/provider_monthly_report.xlsx").read_bytes()
    )
    rows = _rows(REPO / "data/templates/provider_monthly_report.xlsx")
    assert [r[0] for r in rows[:4]] == list(HEADER_LABELS)
    assert [c for c in rows[5] if c] == list(COLUMNS)


def test_registers(registers):
    areas, providers = registers["contract_areas"], registers["providers"]
    assert areas.columns == [
        "area_code",
        "area_name",
        "service_family",
        "agreement_form",
        "valid_from_year",
        "valid_to_year",
    ]
    assert providers.columns == ["org_nr", "provider_name", "agreement_form"]
    in_force_2022 = areas.filter(
        (pl.col("valid_from_year").cast(pl.Int32) <= 2022)
        & (pl.col("valid_to_year").is_null() | (pl.col("valid_to_year").cast(pl.Int32) >= 2022))
    )
    assert in_force_2022.height == 44
    assert areas["area_code"].is_unique().all()
    assert set(areas["agreement_form"]) <= {"LOV", "LOU", "direktavtal"}
    for number in providers["org_nr"]:
        assert re.fullmatch(r"\d{6}-\d{4}", number) and int(number[2]) >= 2
        assert orgnr.is_valid(number) and gen.is_valid_org_nr(number)
    assert providers["org_nr"].is_unique().all()
    forms = providers.group_by("agreement_form").len().sort("agreement_form").rows()
    tio = providers.filter(pl.col("provider_name") == "Tiohundra AB")
    assert tio["agreement_form"].to_list() == ["direktavtal"]
    counts = dict(forms)
    assert counts["LOV"] >= 15 and counts["LOU"] >= 3


# ------------------------------------------------------------------------------ reports
def test_report_files(out, reports):
    files = sorted(p.name for p in (out / "provider_reports").rglob("*.*"))
    assert any(f.endswith(".csv") for f in files) and any(f.endswith(".xlsx") for f in files)
    encodings = set()
    for path in (out / "provider_reports").rglob("*.csv"):
        raw = path.read_bytes()
        encodings.add("utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "cp1252")
    assert encodings == {"utf-8-sig", "cp1252"}
    # ~22 provider x area pairs x 12 months x 3 years, plus one resubmission
    assert len(files) == 22 * 12 * 3 + 1
    assert sorted(reports["period"].unique().str.slice(0, 4).unique()) == ["2022", "2023", "2024"]


def test_validation_rules_hold(registers, reports):
    known_orgs = set(registers["providers"]["org_nr"])
    known_areas = set(registers["contract_areas"]["area_code"])
    assert set(reports["org_nr"]) <= known_orgs
    assert set(reports["area_code"]) <= known_areas
    assert reports["period"].str.contains(r"^\d{4}-(0[1-9]|1[0-2])$").all()
    assert (reports["users"] >= 1).all()
    assert (reports["users_with_care_plan"] <= reports["users"]).all()
    home = reports.filter(pl.col("area_code") == "HTJ")
    assert home["granted_hours"].null_count() == 0 and home["performed_hours"].null_count() == 0
    assert home["staff_continuity"].null_count() == 0
    assert (home["performed_hours"] >= 0).all()
    assert (home["performed_hours"] <= 1.5 * home["granted_hours"]).all()
    assert ((home["performed_hours"] * 100).round(6) % 1 == 0).all()  # at most 2 decimals
    other = reports.filter(pl.col("area_code") != "HTJ")
    assert other["granted_hours"].null_count() == other.height
    assert other["staff_continuity"].null_count() == other.height


def test_calibrated_indicators(reports):
    current = latest(reports)
    expected = {2022: (84, 90, 67), 2023: (90, 90, 70), 2024: (91, 92, 74)}
    for year, (care_home, care_resid, performed) in expected.items():
        of_year = current.filter(pl.col("period").str.starts_with(str(year)))
        home = of_year.filter(pl.col("area_code") == "HTJ")
        resid = of_year.filter(pl.col("area_code").is_in(["SABO", "SABOU"]))
        assert pct(home["users_with_care_plan"].sum(), home["users"].sum()) == care_home
        assert pct(resid["users_with_care_plan"].sum(), resid["users"].sum()) == care_resid
        assert pct(home["performed_hours"].sum(), home["granted_hours"].sum()) == performed


def test_lss_executed_decisions_at_31_december(reports):
    # users ÷ (users + unexecuted decisions) in the December reports: seed 004's 91 % and 90 %
    # (with its 16 unexecuted decisions at 2023-12-31), made-up 92 % for 2024
    expected = {2022: (91, None), 2023: (90, 16), 2024: (92, None)}
    for year, (executed, unexecuted) in expected.items():
        lss = latest(reports).filter(
            pl.col("area_code").is_in(["LSSB", "LSSBU"]) & (pl.col("period") == f"{year}-12")
        )
        users, waiting = lss["users"].sum(), lss["unexecuted_decisions"].sum()
        assert pct(users, users + waiting) == executed
        assert unexecuted in (None, waiting)


def test_one_corrected_resubmission(reports):
    v2 = reports.filter(pl.col("version") == 2)
    assert v2["file"].n_unique() == 1
    org, area, period = v2.row(0, named=True)["org_nr"], v2["area_code"][0], v2["period"][0]
    v1 = reports.filter(
        (pl.col("org_nr") == org)
        & (pl.col("area_code") == area)
        & (pl.col("period") == period)
        & (pl.col("version") == 1)
    )
    cols = [c[0] for c in COLUMNS.values()]
    old, new = v1.select(cols).rows(), v2.select(cols).rows()
    changed = [(r, c) for r in range(len(old)) for c in range(len(cols)) if old[r][c] != new[r][c]]
    assert len(changed) == 1 and cols[changed[0][1]] == "performed_hours"


# ------------------------------------------------------------------------------ visit logs
def test_visit_logs_reconcile_with_reports(out, reports):
    path = (out / "visit_logs" / "visits_*.csv").as_posix()
    con = duckdb.connect()
    columns = [r[0] for r in con.sql(f"DESCRIBE SELECT * FROM read_csv('{path}')").fetchall()]
    assert columns == list(gen.VISIT_COLUMNS)
    checks = con.sql(f"""
        SELECT count(*) FILTER (WHERE actual_end <= actual_start) AS bad_span,
               count(*) FILTER (WHERE NOT regexp_full_match(user_key, 'U[0-9a-f]{{12}}'))
                   AS bad_user,
               count(DISTINCT visit_id) = count(*) AS unique_ids
        FROM read_csv('{path}')""").fetchall()[0]
    assert checks == (0, 0, True)
    per_month = con.sql(f"""
        SELECT provider_org_nr AS org_nr, unit_id,
               strftime(planned_start, '%Y-%m') AS period,
               sum(epoch(actual_end - actual_start)) / 3600.0 AS visit_hours,
               count(DISTINCT user_key) AS visit_users
        FROM read_csv('{path}') GROUP BY ALL""").pl()
    home = latest(reports).filter(pl.col("area_code") == "HTJ")
    joined = home.join(per_month, on=["org_nr", "unit_id", "period"], how="full")
    assert joined.height == home.height == per_month.height
    assert (joined["users"] == joined["visit_users"]).all()
    joined = joined.with_columns(
        (pl.col("performed_hours") / pl.col("visit_hours") - 1).alias("diff")
    )
    off = {gen.PROVIDER_BY_KEY[k].org_nr for k in gen.OFF_PROVIDERS}
    normal = joined.filter(~pl.col("org_nr").is_in(off))
    assert (normal["diff"].abs() <= 0.02).mean() >= 0.95
    deviant = joined.filter(pl.col("org_nr").is_in(off))
    assert deviant.height and deviant["diff"].is_between(0.049, 0.101).all()


def test_staff_continuity_matches_visits(out, reports):
    path = (out / "visit_logs" / "visits_2023.csv").as_posix()
    computed = duckdb.sql(f"""
        SELECT unit_id, period, avg(n) AS continuity FROM (
            SELECT unit_id, strftime(planned_start, '%Y-%m') AS period, user_key,
                   count(DISTINCT staff_key) AS n
            FROM read_csv('{path}') WHERE day(planned_start) <= 14 GROUP BY ALL)
        GROUP BY ALL""").pl()
    home = latest(reports).filter(
        (pl.col("area_code") == "HTJ") & pl.col("period").str.starts_with("2023")
    )
    joined = home.join(computed, on=["unit_id", "period"])
    assert joined.height == home.height
    assert ((joined["staff_continuity"] - joined["continuity"]).abs() <= 0.051).all()


# ------------------------------------------------------------------------------ follow-up
def test_contract_followup_2022(out, registers):
    frame = pl.read_csv(
        out / "contract_followup" / "contract_followup_2022.csv", infer_schema=False
    )
    assert frame.columns == list(gen.FOLLOWUP_COLUMNS)
    assert set(frame["provider_org_nr"]) <= set(registers["providers"]["org_nr"])
    assert set(frame["assessment"]) <= {"godkänd", "delvis godkänd", "ej godkänd"}
    rank = {"ej godkänd": 0, "delvis godkänd": 1, "godkänd": 2}
    per_area = (
        frame.with_columns(pl.col("assessment").replace_strict(rank).alias("rank"))
        .group_by("area_code")
        .agg(pl.col("rank").min())
    )
    assert per_area.height == 44
    counts = dict(per_area.group_by("rank").len().rows())
    assert counts == {2: 33, 1: 10, 0: 1}
    assert per_area.filter(pl.col("rank") == 0)["area_code"].to_list() == ["FOT"]
    assert frame.filter(pl.col("assessment") == "ej godkänd").height == 2
    not_ok = set(per_area.filter(pl.col("rank") < 2)["area_code"])
    assert not_ok == {
        "SABO",
        "KTB",
        "SPBO",
        "HTJ",
        "BHSV",
        "HREH",
        "HLV",
        "FOT",
        "TURB",
        "LSSB",
        "LSSDV",
    }
    deep = set(frame.filter(pl.col("hsl_deep_followup") == "true")["area_code"])
    assert {"SABO", "KTB", "BHSV", "HREH", "LSSB", "SPBO"} <= deep
    assert set(frame["hsl_deep_followup"]) == {"true", "false"}
    assert (
        frame.filter((pl.col("assessment") == "godkänd") & (pl.col("remark").is_not_null())).height
        == 0
    )


def test_action_plans(out):
    plans = pl.read_csv(out / "action_plans" / "action_plans.csv", try_parse_dates=True)
    assert plans.columns == list(gen.ACTION_PLAN_COLUMNS)
    assert set(plans["status"]) <= {"upprättad", "genomförd", "godkänd", "fortsätter följas"}
    assert (plans["status_date"] >= plans["created"]).all()
    assert plans.select(pl.struct("plan_id", "status_date").is_unique().all()).item()
    current = plans.sort("status_date").group_by("plan_id").last()
    followup = pl.read_csv(out / "contract_followup" / "contract_followup_2022.csv")
    todo = followup.filter(pl.col("assessment") != "godkänd")
    plans_2022 = current.filter(pl.col("contract_year") == 2022)
    assert plans_2022.height == todo.height == 17
    status = dict(
        plans_2022.group_by("area_code")
        .agg(pl.col("status").unique().sort())
        .select("area_code", pl.col("status").list.join("|"))
        .rows()
    )
    assert status["TURB"] == "fortsätter följas"
    for area in ("SABO", "KTB", "SPBO", "HTJ", "BHSV", "HREH"):
        assert status[area] == "godkänd", area
    assert plans_2022["status_date"].max().isoformat() < "2023-12-07"


# ------------------------------------------------------------------------------ privacy
def test_no_personal_identity_numbers(out):
    for path in out.rglob("*.*"):
        if path.suffix == ".xlsx":
            text = "\n".join(";".join(c or "" for c in row) for row in _rows(path))
        else:
            text = path.read_bytes().decode(
                "utf-8-sig" if path.suffix == ".csv" else "utf-8", errors="replace"
            )
        assert PNR.search(text) is None, path.name


# ------------------------------------------------------------------------------ determinism
def test_same_inputs_give_the_same_bytes(out, tmp_path):
    gen.generate(tmp_path, scale=SCALE, years=YEARS)
    first = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    second = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert first == second
    for rel in first:
        assert (out / rel).read_bytes() == (tmp_path / rel).read_bytes(), rel


def test_a_year_does_not_depend_on_the_other_years(out, tmp_path):
    gen.generate(tmp_path, scale=SCALE, years=[2024])
    for rel in ("visit_logs/visits_2024.csv", "contract_followup/contract_followup_2024.csv"):
        assert (out / rel).read_bytes() == (tmp_path / rel).read_bytes(), rel


def test_volume_scales(tmp_path):
    gen.generate(tmp_path, scale=0.25, years=[2022])
    users, visits = duckdb.sql(f"""
        SELECT avg(u), sum(n) FROM (
            SELECT month(planned_start) m, count(DISTINCT user_key) u, count(*) n
            FROM read_csv('{(tmp_path / "visit_logs" / "visits_2022.csv").as_posix()}')
            GROUP BY m)""").fetchall()[0]
    assert 200 <= users <= 300 and 200_000 <= visits <= 320_000
