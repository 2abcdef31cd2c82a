"""The health-care volume reader on real files: a hand-written good file, a broken copy for
every rule of docs/contracts/health_care_volumes.md, and the sample generator's files."""

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from pii_forms import BORN_2005_WITHOUT_ZERO, FORMS

from csv_lines import edited
from ingest import health_care_volumes as hcv
from ingest.landing import FileStore, load_family
from ingest.pii import RULE_PERSONNUMMER, RULE_WITHOUT_ZERO
from ingest.registry import FAMILIES, family_for
from ingest.validation import FORMULA_RULE, MAX_ERRORS_PER_RULE, ReadResult, ValidationError

NAME = "health_care_volumes_2024.csv"
TIOHUNDRA = "556796-6857"
OMSORG = "556728-9045"  # Omsorg i Norrtälje AB
BAD_CHECK_DIGIT = "556796-6858"
NOT_REGISTERED = "556000-0001"  # valid, but not in providers.csv
PERSONNUMMER_12 = "19121212-1212"
PERSONNUMMER_10 = "1212121212"  # 121212-1212 without the dash: also a plausible visit count

GOOD = [
    "year,month,provider_org_nr,service,visits,performed_hours",
    f"2024,1,{TIOHUNDRA},hemsjukvard,3200,1984.00",
    f"2024,2,{TIOHUNDRA},hemsjukvard,412,255.75",
    f"2024,2,{TIOHUNDRA},hemrehab,70,59.5",
    f"2024,2,{OMSORG},hemsjukvard,0,0",
    f"2024,12,{OMSORG},hemrehab,25,21.25",
]


def write(folder: Path, lines: list[str], name: str = NAME) -> Path:
    path = folder / name
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    return path


def errors_of(path: Path) -> list[tuple[str, str]]:
    result = hcv.read(path)
    assert not result.ok and not result.tables
    assert all(isinstance(e, ValidationError) and e.file == path.name for e in result.errors)
    return [(e.place, e.rule) for e in result.errors]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sample_data.ledgers import generate

    out = tmp_path_factory.mktemp("ledgers")
    generate(out, scale=0.01, years=(2023, 2024))
    return out


# ------------------------------------------------------------------------------ good files
def test_good_file_gives_the_raw_table(tmp_path: Path):
    result = hcv.read(write(tmp_path, GOOD))
    assert result.ok and result.errors == []
    table = result.tables[hcv.TABLE]
    assert table.schema == hcv.SCHEMA
    assert table.height == 5 and table["source_line"].to_list() == [2, 3, 4, 5, 6]
    row = table.filter(source_line=3).row(0, named=True)
    assert row == {
        "year": 2024,
        "month": 2,
        "provider_org_nr": TIOHUNDRA,
        "service": "hemsjukvard",
        "visits": 412,
        "performed_hours": Decimal("255.75"),
        "source_line": 3,
    }
    hours = dict(zip(table["source_line"], table["performed_hours"], strict=True))
    assert hours[4] == Decimal("59.50") and hours[5] == Decimal("0.00")


def test_blank_lines_and_quoted_values_are_fine(tmp_path: Path):
    lines = [*GOOD[:2], "", f'"2024","02","{TIOHUNDRA}","hemsjukvard","412","255.75"']
    table = hcv.read(write(tmp_path, lines)).tables[hcv.TABLE]
    assert table["source_line"].to_list() == [2, 4]
    assert table.filter(source_line=4)["month"][0] == 2


def test_accepts_by_header(tmp_path: Path):
    assert hcv.accepts(write(tmp_path, GOOD))
    other = tmp_path / "contract_followup_2022.csv"
    other.write_text("contract_year,area_code,provider_org_nr\n", encoding="utf-8")
    assert not hcv.accepts(other)
    assert not hcv.accepts(tmp_path / "missing.csv")


def test_registered_right_after_visit_logs(tmp_path: Path):
    family = FAMILIES[hcv.SOURCE]
    assert family.read is hcv.read and family.tables == hcv.TABLE_SCHEMAS
    assert family.patterns == ("*.csv",)
    names = list(FAMILIES)
    assert names.index(hcv.SOURCE) == names.index("visit_logs") + 1
    assert family_for(write(tmp_path, GOOD)) is family  # by content, outside a landing folder


def test_loaded_into_raw_with_file_id(tmp_path: Path):
    store = FileStore(tmp_path / "landing", tmp_path / "archive", tmp_path / "quarantine")
    folder = store.landing_dir / hcv.SOURCE
    folder.mkdir(parents=True)
    write(folder, GOOD)
    with duckdb.connect(str(tmp_path / "build.duckdb")) as con:
        outcome = load_family(con, FAMILIES[hcv.SOURCE], store)
        assert outcome.accepted == [(f"{hcv.SOURCE}/{NAME}", 5)]
        columns = con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'raw' AND table_name = 'health_care_volumes' "
            "ORDER BY ordinal_position"
        ).fetchall()
        assert columns == [
            ("file_id", "BIGINT"),
            ("year", "INTEGER"),
            ("month", "INTEGER"),
            ("provider_org_nr", "VARCHAR"),
            ("service", "VARCHAR"),
            ("visits", "INTEGER"),
            ("performed_hours", "DECIMAL(12,2)"),
            ("source_line", "INTEGER"),
        ]
        assert con.execute(
            "SELECT visits, performed_hours FROM raw.health_care_volumes WHERE source_line = 3"
        ).fetchall() == [(412, Decimal("255.75"))]


def test_generated_sample_files_are_accepted(sample: Path):
    paths = sorted((sample / "health_care_volumes").iterdir())
    assert [p.name for p in paths] == [
        "health_care_volumes_2023.csv",
        "health_care_volumes_2024.csv",
    ]
    for path in paths:
        assert hcv.accepts(path)
        result = hcv.read(path)
        assert result.ok, result.errors[:5]
        table = result.tables[hcv.TABLE]
        year = int(path.stem[-4:])
        assert table["year"].unique().to_list() == [year]
        assert sorted(table["month"].unique()) == list(range(1, 13))
        assert set(table["service"]) == set(hcv.SERVICES)


# ------------------------------------------------------------------------------ the file
def test_file_name_must_carry_the_year(tmp_path: Path):
    assert errors_of(write(tmp_path, GOOD, "health_care_volumes.csv")) == [
        ("file name", "file name does not match health_care_volumes_<YYYY>.csv")
    ]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", ("line 1", "the file is empty")),
        (
            b"\xef\xbb\xbf" + "\n".join(GOOD).encode(),
            ("line 1", "the file starts with a byte order mark"),
        ),
        ("\r\n".join(GOOD).encode(), ("line 1", "line ends are CR LF, not LF")),
        (
            "\n".join([*GOOD[:2], GOOD[2].replace("hemsjukvard", "hemsjukvård")]).encode("cp1252"),
            ("line 3", "the file is not UTF-8"),
        ),
        (
            "\n".join(["year;month;provider_org_nr;service;visits;performed_hours", *GOOD[1:]])
            .replace(",", ";")
            .encode(),
            ("line 1", "header is not the 6 columns (1 columns instead of 6)"),
        ),
        (
            "\n".join([GOOD[0].replace("visits", "besok"), *GOOD[1:]]).encode(),
            ("line 1", "header is not the 6 columns (column names or order differ)"),
        ),
        (
            "\n".join([*GOOD[:3], GOOD[3] + ",extra"]).encode(),
            ("line 4", "the line has 7 fields instead of 6"),
        ),
        (
            "\n".join([*GOOD[:3], f'2024,3,{TIOHUNDRA},"hemrehab,70,1.5']).encode(),
            (
                "line 4",
                "not valid CSV (a quote character inside a value or a quote never closed)",
            ),
        ),
    ],
)
def test_file_format(tmp_path: Path, data: bytes, error: tuple[str, str]):
    path = tmp_path / NAME
    path.write_bytes(data)
    assert errors_of(path) == [error]


@pytest.mark.parametrize("lines", [GOOD[:1], [GOOD[0], "", ""]])
def test_at_least_one_data_row(tmp_path: Path, lines: list[str]):
    assert errors_of(write(tmp_path, lines)) == [("file", "the file has no data rows")]


# ------------------------------------------------------------------------------ the rules
@pytest.mark.parametrize("column", hcv.COLUMNS)
def test_every_value_is_required(tmp_path: Path, column: str):
    errors = errors_of(write(tmp_path, edited(GOOD, 4, **{column: " "})))
    assert errors == [(f"line 4, column {column}", "empty value")]


@pytest.mark.parametrize("value", ["24", "2024.0", "år"])
def test_year_is_a_year(tmp_path: Path, value: str):
    assert errors_of(write(tmp_path, edited(GOOD, 3, year=value))) == [
        ("line 3, column year", "year is not a year")
    ]


def test_year_is_the_file_names(tmp_path: Path):
    result = hcv.read(write(tmp_path, edited(GOOD, 5, year="2023")))
    assert [(e.place, e.rule, e.expected) for e in result.errors] == [
        ("line 5, column year", "year differs from the year of the file name", "2024 on every row")
    ]


@pytest.mark.parametrize("value", ["0", "13", "1.0", "-1", "feb"])
def test_month_is_1_to_12(tmp_path: Path, value: str):
    assert errors_of(write(tmp_path, edited(GOOD, 6, month=value))) == [
        ("line 6, column month", "month is not a month number")
    ]


def test_org_nr_is_valid_and_registered(tmp_path: Path):
    broken = edited(
        edited(GOOD, 2, provider_org_nr=BAD_CHECK_DIGIT), 5, provider_org_nr="5567966857"
    )
    broken = edited(broken, 6, provider_org_nr=NOT_REGISTERED)
    assert errors_of(write(tmp_path, broken)) == [
        ("line 2, column provider_org_nr", "provider_org_nr is not a valid organisation number"),
        ("line 5, column provider_org_nr", "provider_org_nr is not a valid organisation number"),
        (
            "line 6, column provider_org_nr",
            "provider_org_nr is not in the provider register (providers.csv)",
        ),
    ]


@pytest.mark.parametrize("value", ["hemtjanst", "Hemsjukvard", "hemsjukvård"])
def test_service_is_known(tmp_path: Path, value: str):
    result = hcv.read(write(tmp_path, edited(GOOD, 4, service=value)))
    assert [(e.place, e.rule, e.expected) for e in result.errors] == [
        ("line 4, column service", "unknown service", "hemsjukvard, hemrehab")
    ]


@pytest.mark.parametrize("value", ["-1", "1.5", "12,0", "1 000", "+3", "x", "1e3"])
def test_visits_is_a_whole_number(tmp_path: Path, value: str):
    assert errors_of(write(tmp_path, edited(GOOD, 3, visits=value))) == [
        ("line 3, column visits", "visits is not a whole number ≥ 0")
    ]


@pytest.mark.parametrize(
    "value", ["-1.00", "1.234", "255,75", ".5", "5.", "1e3", "h", "NaN", "inf"]
)
def test_performed_hours_is_a_number_with_two_decimals(tmp_path: Path, value: str):
    assert errors_of(write(tmp_path, edited(GOOD, 3, performed_hours=value))) == [
        (
            "line 3, column performed_hours",
            "performed_hours is not a number ≥ 0 with at most 2 decimals",
        )
    ]


def test_the_largest_plausible_volumes_are_accepted(tmp_path: Path):
    table = hcv.read(write(tmp_path, edited(GOOD, 3, visits="100000", performed_hours="100000.00")))
    row = table.tables[hcv.TABLE].filter(source_line=3).row(0, named=True)
    assert (row["visits"], row["performed_hours"]) == (100_000, Decimal("100000.00"))


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("visits", "100001", "0 to 100000 visits a provider, service and month"),
        ("visits", "2147483648", "0 to 100000 visits a provider, service and month"),
        ("performed_hours", "100000.01", "0 to 100000 hours a provider, service and month"),
        ("performed_hours", "12345678901.00", "0 to 100000 hours a provider, service and month"),
    ],
)
def test_volumes_above_their_bound_are_rejected_with_the_range(
    tmp_path: Path, column: str, value: str, expected: str
):
    result = hcv.read(write(tmp_path, edited(GOOD, 3, **{column: value})))
    assert [(e.place, e.rule, e.expected) for e in result.errors] == [
        (f"line 3, column {column}", "number outside the plausible range", expected)
    ]


def test_one_row_per_month_provider_and_service(tmp_path: Path):
    lines = [*GOOD, GOOD[2], GOOD[3].replace(",2,", ",02,"), GOOD[2].replace(",2,", ",3,")]
    assert errors_of(write(tmp_path, lines)) == [
        ("line 7, column service", "the month, provider and service are already on line 3"),
        ("line 8, column service", "the month, provider and service are already on line 4"),
    ]


@pytest.mark.parametrize(
    ("column", "value", "others"),
    [
        (
            "visits",
            PERSONNUMMER_10,
            [("line 5, column visits", "number outside the plausible range")],
        ),
        ("service", PERSONNUMMER_12, [("line 5, column service", "unknown service")]),
        (
            "provider_org_nr",
            "121212-1212",
            [
                (
                    "line 5, column provider_org_nr",
                    "provider_org_nr is not a valid organisation number",
                )
            ],
        ),
    ],
)
def test_no_personal_identity_number(
    tmp_path: Path, column: str, value: str, others: list[tuple[str, str]]
):
    result = hcv.read(write(tmp_path, edited(GOOD, 5, **{column: value})))
    assert not result.ok and not result.tables and result.scanned
    assert [(e.place, e.rule) for e in result.errors] == [
        (f"line 5, column {column}", RULE_PERSONNUMMER),
        *others,
    ]
    assert [e.personal_data for e in result.errors] == [True] + [False] * len(others)
    digits = value.replace("-", "")
    for error in result.errors:
        assert value not in str(error) and digits not in str(error).replace("-", "")


def test_many_broken_rows_are_counted_after_the_limit(tmp_path: Path):
    rows = [f"2024,{m},{TIOHUNDRA},hemsjukvard,-1,1.00" for m in range(1, 13)]
    rows += [f"2024,{m},{OMSORG},hemsjukvard,-1,1.00" for m in range(1, 13)]
    result: ReadResult = hcv.read(write(tmp_path, [GOOD[0], *rows]))
    places = [e.place for e in result.errors]
    assert len(places) == MAX_ERRORS_PER_RULE + 1
    assert places[0] == "line 2, column visits" and places[-1] == "file"
    assert result.errors[-1].rule == (
        f"visits is not a whole number ≥ 0 — {24 - MAX_ERRORS_PER_RULE} more not listed"
    )


# ---------------------------------------- personal identity numbers anywhere in the file
# (ingest.register_csv.scan_personnummer, shared by every register CSV and the visit logs)


def assert_not_leaked(result: ReadResult, *numbers: str) -> None:
    text = "\n".join(str(e) for e in result.errors)
    for number in numbers:
        digits = "".join(c for c in number if c.isdigit())
        assert digits not in "".join(c for c in text if c.isdigit())


def test_every_form_in_every_place_even_when_the_structure_is_broken(tmp_path: Path):
    lines = [GOOD[0].replace("service", f"service {FORMS[0]}")]  # the header
    lines += [f"2024,{m},{TIOHUNDRA},kund {number},1,1.00" for m, number in enumerate(FORMS, 1)]
    lines.append(f"2024,12,{OMSORG},hemrehab,{BORN_2005_WITHOUT_ZERO},1.00")
    lines.append(f"2024,12,{OMSORG},hemrehab,1,1.00,extra {FORMS[5]}")  # 7 fields
    result = hcv.read(write(tmp_path, lines))
    assert result.scanned and not result.tables
    assert [(e.place, e.rule) for e in result.errors] == [
        ("line 1, column service", RULE_PERSONNUMMER),
        *[(f"line {n}, column service", RULE_PERSONNUMMER) for n in range(2, 2 + len(FORMS))],
        (f"line {len(FORMS) + 2}, column visits", RULE_WITHOUT_ZERO),
        (f"line {len(FORMS) + 3}, field 7", RULE_PERSONNUMMER),
        ("line 1", "header is not the 6 columns (column names or order differ)"),
    ]
    assert all(e.personal_data for e in result.errors[:-1])
    assert_not_leaked(result, *FORMS, BORN_2005_WITHOUT_ZERO)


@pytest.mark.parametrize("encoding", ["cp1252", "utf-16", "utf-8-sig"])
def test_a_file_in_another_encoding_is_scanned(tmp_path: Path, encoding: str):
    path = tmp_path / NAME
    text = "\n".join(edited(GOOD, 4, service=f"kund {FORMS[3]} i Rimbo")) + "\n"
    path.write_bytes(text.encode(encoding))
    result = hcv.read(path)
    assert result.scanned
    assert ("line 4, column service", RULE_PERSONNUMMER) in [
        (e.place, e.rule) for e in result.errors
    ]
    assert_not_leaked(result, FORMS[3])


def test_a_binary_file_is_not_scanned(tmp_path: Path):
    path = tmp_path / NAME
    path.write_bytes(("\n".join(GOOD) + "\n").encode() + bytes(range(256)))
    result = hcv.read(path)
    assert not result.ok and not result.scanned


def test_a_valid_file_is_scanned(tmp_path: Path):
    assert hcv.read(write(tmp_path, GOOD)).scanned


def test_numbers_with_a_sign_are_no_formula(tmp_path: Path):
    broken = edited(edited(GOOD, 2, visits="+5"), 3, visits="-5")
    assert errors_of(write(tmp_path, broken)) == [
        ("line 2, column visits", "visits is not a whole number ≥ 0"),
        ("line 3, column visits", "visits is not a whole number ≥ 0"),
    ]


def test_a_formula_is_rejected(tmp_path: Path):
    assert errors_of(write(tmp_path, edited(GOOD, 2, service="+SUM(1)"))) == [
        ("line 2, column service", FORMULA_RULE),
        ("line 2, column service", "unknown service"),
    ]


def test_a_value_longer_than_csv_allows_says_so(tmp_path: Path):
    broken = edited(GOOD, 3, service="x" * 1_000_000)
    assert errors_of(write(tmp_path, broken)) == [
        ("line 3", "a value longer than 131072 characters")
    ]
