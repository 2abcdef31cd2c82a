"""The contract follow-up and action-plan readers on real files: the generated sample, and a
broken copy for every rule of the two contracts."""

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from csv_lines import edited, fields
from ingest import contract_followup as cf
from ingest.pii import RULE_PERSONNUMMER
from ingest.validation import FORMULA_RULE, MAX_ERRORS_PER_RULE, ReadResult, ValidationError
from sample_data.providers import generate

FOLLOWUP = "contract_followup_2022.csv"
PLANS = "action_plans.csv"
PERSONNUMMER_12 = "19121212-1212"
PERSONNUMMER_10 = "121212-1212"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("providers")
    generate(out, scale=0.01, years=(2022,))
    return out


@pytest.fixture(scope="module")
def followup(sample: Path) -> list[str]:
    """The lines of the follow-up sample (line n is followup[n - 1])."""
    return (sample / "contract_followup" / FOLLOWUP).read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def plans(sample: Path) -> list[str]:
    return (sample / "action_plans" / PLANS).read_text(encoding="utf-8").splitlines()


def write(folder: Path, lines: list[str], name: str) -> Path:
    path = folder / name
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    return path


def read(path: Path) -> ReadResult:
    return cf.read_plans(path) if path.name.startswith("action") else cf.read_followup(path)


def errors_of(path: Path) -> list[tuple[str, str]]:
    result = read(path)
    assert not result.ok and not result.tables
    assert all(isinstance(e, ValidationError) and e.file == path.name for e in result.errors)
    return [(e.place, e.rule) for e in result.errors]


def line_of(lines: list[str], *parts: str) -> int:
    return next(i for i, line in enumerate(lines, 1) if all(p in line for p in parts))


# --------------------------------------------------------------------------------------------
# Valid files
# --------------------------------------------------------------------------------------------
def test_valid_followup(sample: Path, followup: list[str]):
    result = cf.read_followup(sample / "contract_followup" / FOLLOWUP)
    assert result.ok, [str(e) for e in result.errors]
    table = result.tables[cf.FOLLOWUP_TABLE]
    assert table.schema == cf.FOLLOWUP_SCHEMA
    assert table.height == len(followup) - 1 == 71
    assert table.row(0, named=True) == {
        "contract_year": 2022,
        "area_code": "HTJ",
        "provider_org_nr": "556796-6857",
        "assessment": "godkänd",
        "remark": None,
        "hsl_deep_followup": False,
        "source_line": 2,
    }
    spbo = table.filter(area_code="SPBO").row(0, named=True)
    assert spbo["remark"] == "Brister i bemötande, engagemang och handledning"
    assert spbo["hsl_deep_followup"] is True
    assert spbo["source_line"] == line_of(followup, ",SPBO,")
    approved = table.group_by("area_code").agg(
        (pl.col("assessment") == "godkänd").all().alias("all_approved")
    )
    assert approved.height == 44 and approved["all_approved"].sum() == 33


def test_valid_plans(sample: Path, plans: list[str]):
    result = cf.read_plans(sample / "action_plans" / PLANS)
    assert result.ok, [str(e) for e in result.errors]
    table = result.tables[cf.PLANS_TABLE]
    assert table.schema == cf.PLANS_SCHEMA
    assert table.height == len(plans) - 1
    assert table["plan_id"].n_unique() == 17
    row = table.filter(plan_id="AP2022-012", status="genomförd").row(0, named=True)
    assert row["created"] == dt.date(2023, 9, 5) and row["status_date"] == dt.date(2023, 11, 1)
    assert row["comment"].startswith("Åtgärder genomförda: genomgång av skydds- och")
    assert "alla enheter, arbete med" in row["comment"]
    assert row["source_line"] == line_of(plans, "AP2022-012", "genomförd")


def test_accepts(sample: Path, tmp_path: Path):
    followup_path = sample / "contract_followup" / FOLLOWUP
    plans_path = sample / "action_plans" / PLANS
    assert cf.accepts_followup(followup_path) and not cf.accepts_plans(followup_path)
    assert cf.accepts_plans(plans_path) and not cf.accepts_followup(plans_path)
    visits = sample / "visit_logs" / "visits_2022.csv"
    assert not cf.accepts_followup(visits) and not cf.accepts_plans(visits)


def test_empty_comment_is_allowed_and_loaded_as_null(tmp_path: Path, plans: list[str]):
    result = cf.read_plans(write(tmp_path, edited(plans, 3, comment=""), PLANS))
    assert result.ok
    assert result.tables[cf.PLANS_TABLE].filter(source_line=3)["comment"][0] is None


# --------------------------------------------------------------------------------------------
# File name, header, structure (both files)
# --------------------------------------------------------------------------------------------
def test_file_names(tmp_path: Path, followup: list[str], plans: list[str]):
    assert errors_of(write(tmp_path, followup, "followup_2022.csv")) == [
        ("file name", "file name does not match contract_followup_<YYYY>.csv")
    ]
    assert errors_of(write(tmp_path, plans, "action_plans_2023.csv")) == [
        ("file name", "file name is not action_plans.csv")
    ]
    # the rows are still checked (against the most common contract_year)
    broken = edited(followup, 5, contract_year="2021", assessment="ok")
    assert errors_of(write(tmp_path, broken, "followup.csv")) == [
        ("file name", "file name does not match contract_followup_<YYYY>.csv"),
        ("line 5, column contract_year", "contract_year differs from the year of the file (name)"),
        ("line 5, column assessment", "unknown assessment"),
    ]


def test_headers(tmp_path: Path, followup: list[str], plans: list[str]):
    header = followup[0].replace("assessment,remark", "remark,assessment")
    assert errors_of(write(tmp_path, [header, *followup[1:]], FOLLOWUP)) == [
        ("line 1", "header is not the 6 columns (column names or order differ)")
    ]
    header = plans[0].removesuffix(",comment")
    assert errors_of(write(tmp_path, [header, *plans[1:]], PLANS)) == [
        ("line 1", "header is not the 8 columns (7 columns instead of 8)")
    ]


def test_encoding_bom_and_line_ends(tmp_path: Path, followup: list[str]):
    text = "\n".join(followup) + "\n"
    bom = tmp_path / "bom" / FOLLOWUP
    bom.parent.mkdir()
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert errors_of(bom) == [("line 1", "the file starts with a byte order mark")]
    latin = tmp_path / "latin" / FOLLOWUP
    latin.parent.mkdir()
    latin.write_bytes(text.encode("cp1252"))
    first = line_of(followup, "ä")
    assert errors_of(latin) == [(f"line {first}", "the file is not UTF-8")]
    crlf = tmp_path / FOLLOWUP
    crlf.write_bytes(("\n".join(followup[:5]) + "\r\n" + "\n".join(followup[5:])).encode())
    assert errors_of(crlf) == [("line 5", "line ends are CR LF, not LF")]


def test_field_count_and_quotes(tmp_path: Path, followup: list[str], plans: list[str]):
    broken = list(followup)
    broken[4] += ",extra"
    broken[8] = broken[8].rsplit(",", 1)[0]
    assert errors_of(write(tmp_path, broken, FOLLOWUP)) == [
        ("line 5", "the line has 7 fields instead of 6"),
        ("line 9", "the line has 5 fields instead of 6"),
    ]
    broken = list(plans)
    broken[5] = broken[5].replace(",Åtgärder", ',"Åtgärder', 1)  # a quote never closed
    assert broken[5] != plans[5]
    assert errors_of(write(tmp_path, broken, PLANS)) == [
        ("line 6", "not valid CSV (a quote character inside a value or a quote never closed)")
    ]


# --------------------------------------------------------------------------------------------
# Contract follow-up, rules 2-8
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("column", ["contract_year", "provider_org_nr", "assessment"])
def test_followup_empty_value(tmp_path: Path, followup: list[str], column: str):
    assert errors_of(write(tmp_path, edited(followup, 3, **{column: ""}), FOLLOWUP)) == [
        (f"line 3, column {column}", "empty value")
    ]


def test_followup_empty_area_and_hsl(tmp_path: Path, followup: list[str]):
    broken = edited(followup, 4, area_code="", hsl_deep_followup="")
    assert errors_of(write(tmp_path, broken, FOLLOWUP)) == [
        ("line 4, column area_code", "empty value"),
        ("line 4, column hsl_deep_followup", "empty value"),
    ]


def test_followup_contract_year(tmp_path: Path, followup: list[str]):
    broken = edited(followup, 6, contract_year="2023")
    broken = edited(broken, 7, contract_year="22")
    assert errors_of(write(tmp_path, broken, FOLLOWUP)) == [
        ("line 7, column contract_year", "contract_year is not a year"),
        ("line 6, column contract_year", "contract_year differs from the year of the file (name)"),
    ]


def test_followup_area_known_and_in_force(tmp_path: Path, followup: list[str]):
    broken = edited(followup, 8, area_code="XYZ")
    assert errors_of(write(tmp_path, broken, FOLLOWUP)) == [
        (
            "line 8, column area_code",
            "area_code is not in the register of contract areas (contract_areas.csv)",
        )
    ]
    # TURB is in force until 2024: a 2025 follow-up must not assess it
    later = [followup[0], *(line.replace("2022,", "2025,", 1) for line in followup[1:])]
    turb = line_of(followup, ",TURB,")
    assert errors_of(write(tmp_path, later, "contract_followup_2025.csv")) == [
        (f"line {turb}, column area_code", "the contract area is not in force in the contract year")
    ]


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("556796-6858", "provider_org_nr is not a valid organisation number"),
        ("551000-0002", "provider_org_nr is not a valid organisation number"),
        ("5567966857", "provider_org_nr is not a valid organisation number"),
        ("556000-0001", "provider_org_nr is not in the provider register (providers.csv)"),
    ],
)
def test_followup_org_nr(tmp_path: Path, followup: list[str], value: str, rule: str):
    broken = edited(followup, 10, provider_org_nr=value)
    assert errors_of(write(tmp_path, broken, FOLLOWUP)) == [
        ("line 10, column provider_org_nr", rule)
    ]


def test_followup_area_and_provider_unique(tmp_path: Path, followup: list[str]):
    broken = edited(followup, 12, provider_org_nr=fields(followup[2])[2])
    assert errors_of(write(tmp_path, broken, FOLLOWUP)) == [
        ("line 12, column provider_org_nr", "the area and provider are already assessed on line 3")
    ]


def test_followup_assessment_and_remark(tmp_path: Path, followup: list[str]):
    partly = line_of(followup, "delvis godkänd")
    broken = edited(followup, 2, assessment="godkänt")
    broken = edited(broken, 3, remark="Bra arbete")
    broken = edited(broken, partly, remark="")
    assert errors_of(write(tmp_path, broken, FOLLOWUP)) == [
        ("line 2, column assessment", "unknown assessment"),
        (f"line {partly}, column remark", "remark missing for an assessment other than godkänd"),
        ("line 3, column remark", "remark given for an assessment of godkänd"),
    ]


def test_followup_hsl_deep_followup(tmp_path: Path, followup: list[str]):
    sabo = line_of(followup, ",SABOU,")  # two providers
    broken = edited(followup, sabo + 1, hsl_deep_followup="false")
    broken = edited(broken, 2, hsl_deep_followup="ja")
    assert errors_of(write(tmp_path, broken, FOLLOWUP)) == [
        ("line 2, column hsl_deep_followup", "hsl_deep_followup is not true or false"),
        (
            f"line {sabo + 1}, column hsl_deep_followup",
            f"hsl_deep_followup differs from line {sabo} of the same area",
        ),
    ]


def test_followup_every_area_in_force_is_assessed(tmp_path: Path, followup: list[str]):
    broken = [line for line in followup if ",LOGO," not in line and ",HUD," not in line]
    assert errors_of(write(tmp_path, broken, FOLLOWUP)) == [
        ("file", "contract area LOGO is in force in 2022 but has no row"),
        ("file", "contract area HUD is in force in 2022 but has no row"),
    ]


@pytest.mark.parametrize("number", [PERSONNUMMER_12, PERSONNUMMER_10, "0701234567 191212121212"])
def test_followup_personnummer_in_a_remark(tmp_path: Path, followup: list[str], number: str):
    partly = line_of(followup, "delvis godkänd")
    broken = edited(followup, partly, remark=f"Brukare {number} saknar genomförandeplan")
    result = cf.read_followup(write(tmp_path, broken, FOLLOWUP))
    assert [(e.place, e.rule, e.personal_data) for e in result.errors] == [
        (f"line {partly}, column remark", RULE_PERSONNUMMER, True)
    ]
    assert number not in str(result.errors) and number not in repr(result.errors)


# --------------------------------------------------------------------------------------------
# Action plans, rules 2-6
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("column", [c for c in cf.PLANS_COLUMNS if c != "comment"])
def test_plans_empty_value(tmp_path: Path, plans: list[str], column: str):
    assert errors_of(write(tmp_path, edited(plans, 3, **{column: ""}), PLANS)) == [
        (f"line 3, column {column}", "empty value")
    ]


@pytest.mark.parametrize("value", ["2023-11-31", "2023-11-8", "8/11/2023"])
def test_plans_dates(tmp_path: Path, plans: list[str], value: str):
    assert errors_of(write(tmp_path, edited(plans, 3, status_date=value), PLANS)) == [
        ("line 3, column status_date", "status_date is not a valid date")
    ]


def test_plans_status(tmp_path: Path, plans: list[str]):
    assert errors_of(write(tmp_path, edited(plans, 3, status="klar"), PLANS)) == [
        ("line 3, column status", "unknown status")
    ]


def test_plans_plan_id(tmp_path: Path, plans: list[str]):
    broken = edited(plans, 45, plan_id="AP22-017")
    broken = edited(broken, 46, plan_id="AP22-017")
    broken = edited(broken, 43, contract_year="2023")
    broken = edited(broken, 44, contract_year="2023")
    assert errors_of(write(tmp_path, broken, PLANS)) == [
        ("line 45, column plan_id", "malformed plan_id"),
        ("line 46, column plan_id", "malformed plan_id"),
        ("line 43, column contract_year", "contract_year is not the year in plan_id"),
        ("line 44, column contract_year", "contract_year is not the year in plan_id"),
    ]


def test_plans_constant_within_a_plan(tmp_path: Path, plans: list[str]):
    broken = edited(plans, 3, area_code="BHSV")
    broken = edited(broken, 4, created="2023-09-15")
    broken = edited(broken, 6, provider_org_nr="556796-6857", contract_year="2023")
    assert errors_of(write(tmp_path, broken, PLANS)) == [
        ("line 6, column contract_year", "contract_year is not the year in plan_id"),
        ("line 6, column contract_year", "contract_year differs from line 5 of the same plan"),
        ("line 3, column area_code", "area_code differs from line 2 of the same plan"),
        ("line 6, column provider_org_nr", "provider_org_nr differs from line 5 of the same plan"),
        ("line 4, column created", "created differs from line 2 of the same plan"),
    ]


def test_plans_status_dates(tmp_path: Path, plans: list[str]):
    broken = edited(plans, 9, status_date="2023-08-01")  # before created (2023-09-01)
    broken = edited(broken, 13, status_date=fields(plans[11])[6])  # same date as line 12
    assert errors_of(write(tmp_path, broken, PLANS)) == [
        ("line 9, column status_date", "status_date is before created"),
        (
            "line 13, column status_date",
            "the plan already has a row with this status_date on line 12",
        ),
        ("line 9, column status", "the plan's earliest row is not upprättad"),
        ("line 9, column status_date", "the plan's earliest row is not dated created"),
    ]


def test_plans_first_row(tmp_path: Path, plans: list[str]):
    broken = edited(plans, 14, status="genomförd")
    broken = edited(broken, 17, status_date="2023-08-25")  # created 2023-08-24
    assert errors_of(write(tmp_path, broken, PLANS)) == [
        ("line 14, column status", "the plan's earliest row is not upprättad"),
        ("line 17, column status_date", "the plan's earliest row is not dated created"),
    ]


def test_plans_area_and_org_nr(tmp_path: Path, plans: list[str]):
    broken = plans[:1] + [
        line.replace(",HREH,", ",XYZ,").replace("556755-5981", "556755-5982") for line in plans[1:]
    ]
    first = line_of(plans, ",HREH,")
    errors = errors_of(write(tmp_path, broken, PLANS))
    assert errors == [
        *[
            (
                f"line {n}, column area_code",
                "area_code is not in the register of contract areas (contract_areas.csv)",
            )
            for n in range(first, first + 3)
        ],
        *[
            (
                f"line {n}, column provider_org_nr",
                "provider_org_nr is not a valid organisation number",
            )
            for n in range(first, first + 3)
        ],
    ]


def test_plans_org_nr_unknown(tmp_path: Path, plans: list[str]):
    broken = list(plans)
    for line in (2, 3, 4):  # every row of AP2022-001
        broken = edited(broken, line, provider_org_nr="556000-0001")
    assert errors_of(write(tmp_path, broken, PLANS)) == [
        (
            f"line {n}, column provider_org_nr",
            "provider_org_nr is not in the provider register (providers.csv)",
        )
        for n in (2, 3, 4)
    ]


def test_plans_personnummer_in_a_comment(tmp_path: Path, plans: list[str]):
    broken = edited(plans, 5, comment=f"Samtal med {PERSONNUMMER_10}, anhörig {PERSONNUMMER_12}")
    result = cf.read_plans(write(tmp_path, broken, PLANS))
    assert [(e.place, e.rule, e.personal_data) for e in result.errors] == [
        ("line 5, column comment", RULE_PERSONNUMMER, True)
    ]
    for number in (PERSONNUMMER_10, PERSONNUMMER_12):
        assert number not in str(result.errors)


def test_many_errors_of_one_rule_are_capped(tmp_path: Path, plans: list[str]):
    broken = list(plans)
    for line in range(2, len(plans) + 1):
        broken = edited(broken, line, status="klar")
    bad = list(range(2, len(plans) + 1))
    assert len(bad) > MAX_ERRORS_PER_RULE
    errors = errors_of(write(tmp_path, broken, PLANS))
    assert errors == [
        *[(f"line {n}, column status", "unknown status") for n in bad[:MAX_ERRORS_PER_RULE]],
        ("file", f"unknown status — {len(bad) - MAX_ERRORS_PER_RULE} more not listed"),
    ]


# --------------------------------------------------------------------------------------------
# Text a spreadsheet would run as a formula (both files)
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["=cmd|' /C calc'!A0", "@SUM(1)", " +SUM(1)"])
def test_plans_formula_in_a_comment(tmp_path: Path, plans: list[str], text: str):
    broken = edited(plans, 5, comment=text)
    assert errors_of(write(tmp_path, broken, PLANS)) == [("line 5, column comment", FORMULA_RULE)]


def test_followup_formula_in_a_remark(tmp_path: Path, followup: list[str]):
    partly = line_of(followup, "delvis godkänd")
    broken = edited(followup, partly, remark='=HYPERLINK("http://x")')
    assert errors_of(write(tmp_path, broken, FOLLOWUP)) == [
        (f"line {partly}, column remark", FORMULA_RULE)
    ]


def test_text_beginning_with_a_dash_is_no_formula(tmp_path: Path, plans: list[str]):
    result = cf.read_plans(
        write(tmp_path, edited(plans, 5, comment="-x, - inget att tillägga"), PLANS)
    )
    assert result.ok and result.scanned
