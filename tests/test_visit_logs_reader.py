"""The visit-log reader on real files: a generated sample, and a broken copy for every rule."""

from collections.abc import Callable
from pathlib import Path

import duckdb
import polars as pl
import pytest
from pii_forms import BORN_2005_WITHOUT_ZERO, FORMS

from ingest import visit_logs
from ingest.pii import RULE_PERSONNUMMER, RULE_WITHOUT_ZERO
from ingest.validation import FORMULA_RULE, Bound, SqlScan, ValidationError
from sample_data.providers import generate

NAME = "visits_2022.csv"
COLUMNS = list(visit_logs.COLUMNS)
PERSONNUMMER_12 = "19121212-1212"
PERSONNUMMER_10 = "121212-1212"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("providers")
    generate(out, scale=0.01, years=(2022,))
    return out / "visit_logs" / NAME


@pytest.fixture(scope="module")
def lines(sample: Path) -> list[str]:
    """The header and the first 200 data lines of the sample (line n is lines[n - 1])."""
    with sample.open(encoding="utf-8") as handle:
        return [next(handle).rstrip("\n") for _ in range(201)]


def write(folder: Path, lines: list[str], name: str = NAME) -> Path:
    path = folder / name
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    return path


def edited(lines: list[str], line: int, **values: str) -> list[str]:
    """A copy of ``lines`` with fields of file line ``line`` replaced."""
    fields = lines[line - 1].split(",")
    for column, value in values.items():
        fields[COLUMNS.index(column)] = value
    copy = list(lines)
    copy[line - 1] = ",".join(fields)
    return copy


def field(lines: list[str], line: int, column: str) -> str:
    return lines[line - 1].split(",")[COLUMNS.index(column)]


def errors_of(path: Path) -> list[ValidationError]:
    result = visit_logs.read(path)
    assert not result.ok and not result.tables
    return result.errors


def only_error(path: Path) -> tuple[str, str]:
    errors = errors_of(path)
    assert len(errors) == 1, [str(e) for e in errors]
    assert errors[0].file == path.name
    return errors[0].place, errors[0].rule


# --------------------------------------------------------------------------------------------
# Valid files
# --------------------------------------------------------------------------------------------
def test_valid_sample_reads_as_a_sql_scan_and_loads(sample: Path, tmp_path: Path):
    result = visit_logs.read(sample)
    assert result.ok, [str(e) for e in result.errors]
    scan = result.tables[visit_logs.TABLE]
    assert isinstance(scan, SqlScan)
    expected = pl.read_csv(
        sample,
        schema_overrides={"provider_org_nr": pl.String, "planned_minutes": pl.Int32},
        try_parse_dates=True,
    )
    assert scan.rows == expected.height == result.row_count

    # Load it as the loader does: a raw table created from SCHEMA, INSERT ... BY NAME.
    con = duckdb.connect(str(tmp_path / "build.duckdb"))
    empty = pl.DataFrame(schema=visit_logs.SCHEMA)  # noqa: F841 - DuckDB replacement scan
    con.execute(
        "CREATE TABLE visit_logs AS SELECT CAST(NULL AS BIGINT) AS file_id, * FROM empty "
        "WHERE false"
    )
    con.execute(
        f"INSERT INTO visit_logs BY NAME SELECT 7 AS file_id, * FROM ({scan.query(sample)})"
    )
    loaded = con.sql("SELECT * EXCLUDE (file_id) FROM visit_logs ORDER BY visit_id").pl()
    con.close()
    assert loaded.schema == visit_logs.SCHEMA
    assert loaded.height == scan.rows
    first = loaded.row(0, named=True)
    assert first == expected.sort("visit_id").row(0, named=True)
    assert loaded["planned_minutes"].sum() == expected["planned_minutes"].sum()
    assert loaded["actual_end"].max() == expected["actual_end"].max()
    assert loaded["user_key"].n_unique() == expected["user_key"].n_unique()


def test_staged_rows_load_what_the_file_holds_without_reading_it_again(
    sample: Path, tmp_path: Path
):
    """With a staging folder (the loader's), the file is parsed once: the accepted rows are
    kept as Parquet and loaded from it, equal to the rows the file's own read_csv gives."""
    staging = tmp_path / "staging"
    staging.mkdir()
    copy = tmp_path / "copy" / NAME
    copy.parent.mkdir()
    copy.write_bytes(sample.read_bytes())
    result = visit_logs.read(copy, staging=staging)
    assert result.ok, [str(e) for e in result.errors]
    staged_sql = result.tables[visit_logs.TABLE].query(copy)
    assert list(staging.iterdir()) == [staging / f"{NAME}.rows.parquet"]
    copy.unlink()  # the load reads the staged rows only
    con = duckdb.connect()
    staged = con.sql(f"SELECT * FROM ({staged_sql}) ORDER BY visit_id").pl()
    reread = con.sql(f"SELECT * FROM ({visit_logs.load_sql(sample)}) ORDER BY visit_id").pl()
    assert staged.schema == visit_logs.SCHEMA
    assert staged.height == result.row_count
    assert staged.equals(reread)


def test_a_rejected_file_leaves_nothing_staged(tmp_path: Path, lines: list[str]):
    staging = tmp_path / "staging"
    staging.mkdir()
    path = write(tmp_path, edited(lines, 9, planned_minutes="0"))
    assert not visit_logs.read(path, staging=staging).ok
    assert list(staging.iterdir()) == []


def test_sql_scan_reads_the_absolute_path_quoted(tmp_path: Path, lines: list[str]):
    folder = tmp_path / "it's here"
    folder.mkdir()
    path = write(folder, lines)
    result = visit_logs.read(path)
    assert result.ok
    sql = result.tables[visit_logs.TABLE].query(path)
    assert "'" + str(path.resolve()).replace("'", "''") + "'" in sql
    assert duckdb.connect().execute(f"SELECT count(*) FROM ({sql})").fetchone()[0] == 200


def test_header_only_file_is_accepted_with_no_rows(tmp_path: Path, lines: list[str]):
    result = visit_logs.read(write(tmp_path, lines[:1]))
    assert result.ok and result.row_count == 0


def test_visit_ids_of_another_year_are_fine_when_unique(tmp_path: Path, lines: list[str]):
    result = visit_logs.read(write(tmp_path, edited(lines, 5, visit_id="V2021-00000005")))
    assert result.ok, [str(e) for e in result.errors]


def test_accepts(sample: Path, tmp_path: Path):
    assert visit_logs.accepts(sample)
    other = tmp_path / "contract_followup_2022.csv"
    other.write_text("contract_year,area_code\n", encoding="utf-8")
    assert not visit_logs.accepts(other)
    text = tmp_path / "visits_2022.txt"
    text.write_text(visit_logs.HEADER + "\n", encoding="utf-8")
    assert not visit_logs.accepts(text)


# --------------------------------------------------------------------------------------------
# Rule 1: file name and header
# --------------------------------------------------------------------------------------------
def test_file_name(tmp_path: Path, lines: list[str]):
    place, rule = only_error(write(tmp_path, lines, name="visits-2022.csv"))
    assert (place, rule) == (
        "file name",
        "file name does not match visits_<YYYY>.csv or visits_<YYYY>-<MM>.csv",
    )
    assert only_error(write(tmp_path, lines, name="visits_2022-13.csv"))[0] == "file name"


@pytest.mark.parametrize(
    ("header", "rule"),
    [
        (
            visit_logs.HEADER.replace("unit_id,user_key", "user_key,unit_id"),
            "header is not the ten columns (column names or order differ)",
        ),
        (
            visit_logs.HEADER.removesuffix(",service_type"),
            "header is not the ten columns (9 columns instead of 10)",
        ),
    ],
)
def test_header(tmp_path: Path, lines: list[str], header: str, rule: str):
    assert only_error(write(tmp_path, [header, *lines[1:]])) == ("line 1", rule)


def test_byte_order_mark_and_crlf(tmp_path: Path, lines: list[str]):
    bom = tmp_path / "bom" / NAME
    bom.parent.mkdir()
    bom.write_bytes(b"\xef\xbb\xbf" + ("\n".join(lines) + "\n").encode())
    assert only_error(bom) == ("line 1", "the file starts with a byte order mark")
    assert visit_logs.accepts(bom)
    crlf = tmp_path / NAME
    crlf.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    assert only_error(crlf) == ("line 1", "line ends are CR LF, not LF")


# --------------------------------------------------------------------------------------------
# Lines DuckDB cannot split into ten fields
# --------------------------------------------------------------------------------------------
def test_wrong_number_of_fields_with_line_numbers_kept_after_it(tmp_path: Path, lines: list[str]):
    broken = list(lines)
    broken[2] += ",extra"  # line 3: eleven fields
    broken[5] = broken[5].rsplit(",", 1)[0]  # line 6: nine fields
    broken = edited(broken, 9, staff_key="")  # line 9: still line 9 in the report
    errors = errors_of(write(tmp_path, broken))
    assert [(e.place, e.rule) for e in errors] == [
        ("line 3", "the line has more than ten fields"),
        ("line 6", "the line has fewer than ten fields"),
        ("line 9, column staff_key", "empty value"),
    ]


def test_line_numbers_count_blank_lines(tmp_path: Path, lines: list[str]):
    broken = edited(lines, 12, service_type="städning")
    broken = [*broken[:4], "", "", *broken[4:8], "", *broken[8:]]  # blank lines 5, 6 and 11
    assert only_error(write(tmp_path, broken + [""])) == (
        "line 15, column service_type",
        "unknown service_type",
    )


def test_unterminated_quote_and_invalid_utf8(tmp_path: Path, lines: list[str]):
    broken = edited(lines, 4, service_type='"tillsyn')
    place, rule = only_error(write(tmp_path, broken))
    assert place == "line 4"
    assert rule == "quote character inside an unquoted value or a quote never closed"
    path = tmp_path / "utf8" / NAME
    path.parent.mkdir()
    data = ("\n".join(lines) + "\n").encode().replace(b"tillsyn", b"tills\xffyn", 1)
    path.write_bytes(data)
    line = next(i for i, text in enumerate(lines, 1) if "tillsyn" in text)
    assert only_error(path) == (f"line {line}", "the line is not valid UTF-8")


# --------------------------------------------------------------------------------------------
# Rule 2: no empty values, types parse
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("column", COLUMNS)
def test_empty_value(tmp_path: Path, lines: list[str], column: str):
    errors = errors_of(write(tmp_path, edited(lines, 7, **{column: ""})))
    assert (errors[0].place, errors[0].rule) == (f"line 7, column {column}", "empty value")
    assert len(errors) == 1


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("planned_start", "2022-01-01 06:30:00"),
        ("planned_start", "2022-1-01T06:30:00"),
        ("actual_start", "2022-01-01T06:30"),
        ("actual_end", "2022-02-30T07:00:00"),
        ("actual_end", "2022-01-01T07:00:00+01:00"),
    ],
)
def test_timestamp_type(tmp_path: Path, lines: list[str], column: str, value: str):
    place, rule = only_error(write(tmp_path, edited(lines, 8, **{column: value})))
    assert (place, rule) == (f"line 8, column {column}", "not a valid timestamp")


@pytest.mark.parametrize("value", ["30.0", "1e2", "+30", " 30", "0x1F", "thirty"])
def test_integer_type(tmp_path: Path, lines: list[str], value: str):
    place, rule = only_error(write(tmp_path, edited(lines, 2, planned_minutes=value)))
    assert (place, rule) == ("line 2, column planned_minutes", "not an integer")


@pytest.mark.parametrize("value", ["-30", "1e9", "1000000000000", "-0.5", "0"])
def test_minutes_that_are_numbers_out_of_range_say_so(tmp_path: Path, lines: list[str], value: str):
    [error] = errors_of(write(tmp_path, edited(lines, 2, planned_minutes=value)))
    assert (error.place, error.rule, error.expected) == (
        "line 2, column planned_minutes",
        Bound.RULE,
        "1 to 480 minutes a visit",
    )


# --------------------------------------------------------------------------------------------
# Rule 3: visit_id (format and uniqueness)
# --------------------------------------------------------------------------------------------
def test_visit_id_unique(tmp_path: Path, lines: list[str]):
    broken = edited(lines, 10, visit_id=field(lines, 4, "visit_id"))
    broken = edited(broken, 30, visit_id=field(lines, 4, "visit_id"))
    assert only_error(write(tmp_path, broken)) == (
        "lines 4, 10, 30, column visit_id",
        "visit_id is not unique: 1 visit_id on more than one line (3 rows)",
    )


def test_visit_id_unique_across_other_years(tmp_path: Path, lines: list[str]):
    broken = edited(lines, 5, visit_id="V2021-00000001")
    broken = edited(broken, 12, visit_id="V2021-00000001")
    broken = edited(broken, 40, visit_id="V2021-00000002")
    broken = edited(broken, 60, visit_id="V2021-00000002")
    assert only_error(write(tmp_path, broken)) == (
        "lines 5, 12, 40, 60, column visit_id",
        "visit_id is not unique: 2 visit_ids on more than one line (4 rows)",
    )


def test_visit_id_unique_beyond_the_bitmap(tmp_path: Path, lines: list[str]):
    broken = edited(lines, 7, visit_id="V2022-99999999")
    assert visit_logs.read(write(tmp_path, broken)).ok
    broken = edited(broken, 70, visit_id="V2022-99999999")
    assert only_error(write(tmp_path, broken)) == (
        "lines 7, 70, column visit_id",
        "visit_id is not unique: 1 visit_id on more than one line (2 rows)",
    )


def test_visit_id_pattern(tmp_path: Path, lines: list[str]):
    broken = edited(lines, 11, visit_id="V2022-123")
    assert only_error(write(tmp_path, broken)) == ("line 11, column visit_id", "malformed visit_id")


# --------------------------------------------------------------------------------------------
# Rule 4: provider_org_nr valid and known
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        "556796-6858",  # check digit
        "551000-0002",  # third digit < 2 (check digit right)
        "5567966857",  # no hyphen
        "556796-685",  # too short
    ],
)
def test_org_nr_invalid(tmp_path: Path, lines: list[str], value: str):
    place, rule = only_error(write(tmp_path, edited(lines, 13, provider_org_nr=value)))
    assert place == "line 13, column provider_org_nr"
    assert rule == "provider_org_nr is not a valid organisation number"


def test_org_nr_unknown(tmp_path: Path, lines: list[str]):
    broken = edited(lines, 13, provider_org_nr="556000-0001")  # valid, not registered
    place, rule = only_error(write(tmp_path, broken))
    assert place == "line 13, column provider_org_nr"
    assert rule == "provider_org_nr is not in the provider register (providers.csv)"


# --------------------------------------------------------------------------------------------
# Rule 5: key patterns
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("unit_id", "E1234"),
        ("user_key", "UD5A0694B859B"),
        ("user_key", "Ud5a0694b859"),
        ("staff_key", "S26111b18"),
        ("staff_key", "X26111b18c"),
    ],
)
def test_key_patterns(tmp_path: Path, lines: list[str], column: str, value: str):
    place, rule = only_error(write(tmp_path, edited(lines, 14, **{column: value})))
    assert (place, rule) == (f"line 14, column {column}", f"malformed {column}")


# --------------------------------------------------------------------------------------------
# Rules 6-8: year, minutes, times, service type
# --------------------------------------------------------------------------------------------
def _month(lines: list[str], month: int) -> list[str]:
    """The header and the data lines of ``lines`` whose planned_start is in 2022-``month``."""
    return lines[:1] + [
        line for line in lines[1:] if line.split(",")[5].startswith(f"2022-{month:02d}")
    ]


def test_monthly_file_is_accepted(tmp_path: Path, lines: list[str]):
    january = _month(lines, 1)
    result = visit_logs.read(write(tmp_path, january, name="visits_2022-01.csv"))
    assert result.ok, [str(e) for e in result.errors]
    assert result.row_count == len(january) - 1 > 0
    assert visit_logs.file_period("visits_2022-01.csv") == (2022, 1)
    assert visit_logs.file_period("visits_2022.csv") == (2022, None)


def test_monthly_file_with_a_visit_of_another_month(tmp_path: Path, lines: list[str]):
    january = _month(lines, 1)
    broken = edited(
        january,
        4,
        planned_start="2022-02-01T07:10:00",
        actual_start="2022-02-01T07:12:00",
        actual_end="2022-02-01T07:40:00",
    )
    assert only_error(write(tmp_path, broken, name="visits_2022-01.csv")) == (
        "line 4, column planned_start",
        "planned_start is not in the month of the file name",
    )
    errors = errors_of(write(tmp_path, january, name="visits_2023-01.csv"))
    assert (errors[0].place, errors[0].expected) == (
        f"lines 2, 3, 4, 5, 6 (and {len(january) - 6} more), column planned_start",
        "a planned_start in 2023-01",
    )


def test_year_of_planned_start(tmp_path: Path, lines: list[str]):
    broken = edited(
        lines,
        15,
        planned_start="2023-01-01T07:10:00",
        actual_start="2023-01-01T07:12:00",
        actual_end="2023-01-01T07:40:00",
    )
    assert only_error(write(tmp_path, broken)) == (
        "line 15, column planned_start",
        "planned_start is not in the year of the file name",
    )


def test_planned_minutes_range_on_many_rows(tmp_path: Path, lines: list[str]):
    broken = list(lines)
    for line in range(2, 13):
        broken = edited(broken, line, planned_minutes="0")
    broken = edited(broken, 40, planned_minutes="481")
    assert only_error(write(tmp_path, broken)) == (
        "lines 2, 3, 4, 5, 6 (and 7 more), column planned_minutes",
        "number outside the plausible range (12 rows)",
    )


def test_end_after_start(tmp_path: Path, lines: list[str]):
    start = field(lines, 16, "actual_start")
    assert only_error(write(tmp_path, edited(lines, 16, actual_end=start))) == (
        "line 16, column actual_end",
        "actual_end is not after actual_start",
    )


def test_visit_length(tmp_path: Path, lines: list[str]):
    assert field(lines, 17, "planned_start").startswith("2022-01-01T")
    visit = {"actual_start": "2022-01-01T07:00:00", "actual_end": "2022-01-01T19:00:01"}
    assert only_error(write(tmp_path, edited(lines, 17, **visit))) == (
        "line 17, column actual_end",
        "visit longer than 12 hours",
    )
    visit["actual_end"] = "2022-01-01T19:00:00"  # exactly 12 hours is allowed
    assert visit_logs.read(write(tmp_path, edited(lines, 17, **visit))).ok


def test_actual_start_on_the_planned_date(tmp_path: Path, lines: list[str]):
    broken = edited(lines, 18, actual_start="2022-01-02T07:00:00", actual_end="2022-01-02T07:30:00")
    assert only_error(write(tmp_path, broken)) == (
        "line 18, column actual_start",
        "actual_start is not on the date of planned_start",
    )


def test_at_most_100_visits_a_user_and_day(tmp_path: Path, lines: list[str]):
    def busy(count: int) -> list[str]:
        visit = edited(lines, 2, user_key="Uabcdefabcdef")[1]
        return [
            edited([visit], 1, visit_id=f"V2022-9{i:07d}", staff_key=f"S{i:09x}")[0]
            for i in range(count)
        ]

    assert visit_logs.read(write(tmp_path, [*lines, *busy(100)])).ok
    place, rule = only_error(write(tmp_path, [*lines, *busy(101)]))
    assert place == "lines 202, 203, 204, 205, 206 (and 96 more), column user_key"
    assert rule == "more than 100 visits for one user on one day (101 rows)"


def test_service_type(tmp_path: Path, lines: list[str]):
    assert only_error(write(tmp_path, edited(lines, 19, service_type="städning"))) == (
        "line 19, column service_type",
        "unknown service_type",
    )


# --------------------------------------------------------------------------------------------
# Rule 9: no personal identity numbers
# --------------------------------------------------------------------------------------------
def assert_not_leaked(errors: list[ValidationError], *numbers: str) -> None:
    assert any(e.personal_data for e in errors)
    text = "\n".join(str(e) for e in errors)
    for number in numbers:
        assert number not in text
        assert number.replace("-", "") not in text


@pytest.mark.parametrize("number", [PERSONNUMMER_12, PERSONNUMMER_10])
def test_personnummer_as_user_key(tmp_path: Path, lines: list[str], number: str):
    errors = errors_of(write(tmp_path, edited(lines, 6, user_key=number)))
    assert [(e.place, e.rule) for e in errors] == [
        ("line 6, column user_key", "malformed user_key"),
        ("line 6, column user_key", RULE_PERSONNUMMER),
    ]
    assert_not_leaked(errors, number)


def test_personnummer_hidden_in_a_well_formed_key(tmp_path: Path, lines: list[str]):
    key = "U" + PERSONNUMMER_12.replace("-", "")  # U + 12 hex digits: the pattern holds
    errors = errors_of(write(tmp_path, edited(lines, 21, user_key=key)))
    assert [(e.place, e.rule, e.personal_data) for e in errors] == [
        ("line 21, column user_key", RULE_PERSONNUMMER, True)
    ]


def test_personnummer_in_other_columns_and_lines(tmp_path: Path, lines: list[str]):
    broken = edited(lines, 22, service_type=f"tillsyn {PERSONNUMMER_10}")
    broken = edited(broken, 23, planned_minutes=PERSONNUMMER_12.replace("-", ""))
    broken[24 - 1] += f",{PERSONNUMMER_12}"  # an unparseable line holding one
    errors = errors_of(write(tmp_path, broken))
    pii = [(e.place, e.rule) for e in errors if e.personal_data]
    assert pii == [
        ("line 24, field 11", RULE_PERSONNUMMER),  # a line DuckDB could not split
        ("line 23, column planned_minutes", RULE_PERSONNUMMER),
        ("line 22, column service_type", RULE_PERSONNUMMER),
    ]
    assert_not_leaked(errors, PERSONNUMMER_10, PERSONNUMMER_12)


def test_personnummer_right_after_another_number(tmp_path: Path, lines: list[str]):
    # the candidate pattern consumes the space after the phone number
    broken = edited(lines, 26, service_type="tillsyn tel 0701234567 191212121212")
    errors = errors_of(write(tmp_path, broken))
    assert [(e.place, e.rule) for e in errors if e.personal_data] == [
        ("line 26, column service_type", RULE_PERSONNUMMER)
    ]
    assert_not_leaked(errors, "191212121212")


def test_org_nr_like_numbers_are_not_personnummer(tmp_path: Path, lines: list[str]):
    # a valid but unregistered org nr is a candidate for the pattern, never a personnummer
    errors = errors_of(write(tmp_path, edited(lines, 25, provider_org_nr="556000-0001")))
    assert not any("personal identity" in e.rule or e.personal_data for e in errors)


# Every form the detector knows (ingest.pii): 10 or 12 digits, each separator, and a
# samordningsnummer (day + 60).


def test_every_form_inside_text(tmp_path: Path, lines: list[str]):
    broken = list(lines)
    for line, number in enumerate(FORMS, start=30):
        broken = edited(broken, line, service_type=f"tillsyn (kund {number})")
    errors = errors_of(write(tmp_path, broken))
    assert [(e.place, e.rule) for e in errors if e.personal_data] == [
        (
            f"lines 30, 31, 32, 33, 34 (and {len(FORMS) - 5} more), column service_type",
            f"{RULE_PERSONNUMMER} ({len(FORMS)} rows)",
        )
    ]
    assert_not_leaked(errors, *FORMS)


def test_number_whose_leading_zero_was_dropped(tmp_path: Path, lines: list[str]):
    broken = edited(lines, 7, planned_minutes=BORN_2005_WITHOUT_ZERO)
    broken = edited(broken, 8, user_key=BORN_2005_WITHOUT_ZERO)
    broken = edited(broken, 9, user_key="123456789")  # 0123456789 is no personnummer
    errors = errors_of(write(tmp_path, broken))
    assert [(e.place, e.rule) for e in errors] == [
        ("lines 8, 9, column user_key", "malformed user_key (2 rows)"),
        ("line 7, column planned_minutes", Bound.RULE),
        ("line 8, column user_key", RULE_WITHOUT_ZERO),
        ("line 7, column planned_minutes", RULE_WITHOUT_ZERO),
    ]
    assert_not_leaked(errors, BORN_2005_WITHOUT_ZERO)


def test_a_file_whose_header_is_wrong_is_scanned_all_the_same(tmp_path: Path, lines: list[str]):
    header = lines[0].replace("service_type", f"service_type {FORMS[0]}")
    broken = edited([header, *lines[1:]], 40, service_type=f"tillsyn {FORMS[3]}")
    result = visit_logs.read(write(tmp_path, broken))
    assert [(e.place, e.rule) for e in result.errors] == [
        ("line 1", "header is not the ten columns (column names or order differ)"),
        ("line 1, column service_type", RULE_PERSONNUMMER),
        ("line 40, column service_type", RULE_PERSONNUMMER),
    ]
    assert result.scanned
    assert_not_leaked(result.errors, FORMS[0], FORMS[3])


@pytest.mark.parametrize(
    ("encode", "first_error"),
    [
        (lambda text: b"\xef\xbb\xbf" + text.encode(), "the file starts with a byte order mark"),
        (lambda text: text.encode("utf-16"), "the header is not UTF-8"),
        (lambda text: text.encode("cp1252"), "the line is not valid UTF-8"),
    ],
)
def test_other_encodings_are_scanned(
    tmp_path: Path, lines: list[str], encode: Callable[[str], bytes], first_error: str
):
    broken = edited(lines, 50, service_type=f"tillsyn {FORMS[4]}")  # the em dash is in cp1252
    path = tmp_path / NAME
    path.write_bytes(encode("\n".join(broken) + "\n"))
    result = visit_logs.read(path)
    assert result.errors[0].rule == first_error
    assert [(e.place, e.rule) for e in result.errors if e.personal_data] == [
        ("line 50, column service_type", RULE_PERSONNUMMER)
    ]
    assert result.scanned
    assert_not_leaked(result.errors, FORMS[4])


def test_binary_file_is_not_scanned(tmp_path: Path, lines: list[str]):
    path = tmp_path / NAME
    path.write_bytes(("\n".join(lines) + "\n").encode() + bytes(range(256)))
    result = visit_logs.read(path)
    assert not result.ok and not result.scanned


def test_more_candidates_than_can_be_checked(
    tmp_path: Path, lines: list[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(visit_logs, "MAX_DISTINCT_CHECKED", 3)
    broken = list(lines)
    for line in range(60, 64):  # well-formed keys holding 12 digits that are no personnummer
        broken = edited(broken, line, user_key=f"U5555555555{line}")
    result = visit_logs.read(write(tmp_path, broken))
    assert [(e.place, e.rule) for e in result.errors] == [
        (
            "file",
            "more than 3 distinct numbers that may be personal identity numbers: too many to check",
        )
    ]
    assert not result.scanned


@pytest.mark.parametrize(
    ("column", "value", "other"),
    [
        ("unit_id", "=cmd|' /C calc'!A0", "malformed unit_id"),
        ("service_type", "@SUM(1)", "unknown service_type"),
        ("user_key", " +SUM(1)", "malformed user_key"),
    ],
)
def test_formula(tmp_path: Path, lines: list[str], column: str, value: str, other: str):
    errors = errors_of(write(tmp_path, edited(lines, 11, **{column: value})))
    assert [(e.place, e.rule) for e in errors] == [
        (f"line 11, column {column}", other),
        (f"line 11, column {column}", FORMULA_RULE),
    ]


def test_a_number_or_a_dash_is_no_formula(tmp_path: Path, lines: list[str]):
    broken = edited(lines, 12, planned_minutes="+30", service_type="-x")
    errors = errors_of(write(tmp_path, broken))
    assert [(e.place, e.rule) for e in errors] == [
        ("line 12, column planned_minutes", "not an integer"),
        ("line 12, column service_type", "unknown service_type"),
    ]


# --------------------------------------------------------------------------------------------
# Several rules at once: one error per rule, in the contract's order
# --------------------------------------------------------------------------------------------
def test_errors_come_one_per_rule_in_contract_order(tmp_path: Path, lines: list[str]):
    broken = edited(lines, 3, service_type="städning")
    broken = edited(broken, 4, planned_minutes="0")
    broken = edited(broken, 5, unit_id="E1")
    broken = edited(broken, 50, unit_id="E2")
    errors = errors_of(write(tmp_path, broken, name="visits_22.csv"))
    assert [(e.place, e.rule) for e in errors] == [
        ("file name", visit_logs.FILE_NAME_RULE),
        ("lines 5, 50, column unit_id", "malformed unit_id (2 rows)"),
        ("line 4, column planned_minutes", "number outside the plausible range"),
        ("line 3, column service_type", "unknown service_type"),
    ]
    assert all(e.expected for e in errors)


def _transform_all(lines: list[str], change: Callable[[str], str]) -> list[str]:
    return [lines[0], *(change(line) for line in lines[1:])]


def test_whole_column_broken_reports_count_and_five_examples(tmp_path: Path, lines: list[str]):
    broken = _transform_all(lines, lambda line: line.replace(",S", ",X", 1))
    place, rule = only_error(write(tmp_path, broken))
    assert place == "lines 2, 3, 4, 5, 6 (and 195 more), column staff_key"
    assert rule == "malformed staff_key (200 rows)"


def test_many_unparseable_lines_are_summarised_without_recording_each(tmp_path: Path, sample: Path):
    text = sample.read_text(encoding="utf-8").replace("\n", ",x\n")
    path = tmp_path / NAME
    path.write_text(text.replace(",x\n", "\n", 1), encoding="utf-8")  # header intact
    rows = text.count("\n") - 1
    assert only_error(path) == (
        f"lines 2 (and {rows - 1} more)",
        f"the line has more than ten fields ({rows} lines)",
    )


def test_unreadable_csv_error_never_quotes_the_line(tmp_path: Path, lines: list[str]):
    broken = edited(lines, 5, user_key=PERSONNUMMER_12)
    path = tmp_path / NAME
    data = "\n".join(broken[:4]) + "\n" + "\r\n".join(broken[4:]) + "\r\n"  # mixed line ends
    path.write_bytes(data.encode())
    result = visit_logs.read(path)
    assert [(e.place, e.rule) for e in result.errors] == [
        ("file", "the file cannot be read as CSV (check quotes, field count and line ends)"),
        ("line 5, column user_key", RULE_PERSONNUMMER),  # scanned all the same
    ]
    assert result.scanned
    assert_not_leaked(result.errors, PERSONNUMMER_12)
