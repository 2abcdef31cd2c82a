"""The provider monthly report reader (``ingest/provider_reports.py``) on real files.

A valid sample is generated once per module; each rule of the contract is then broken in a
copy (an xlsx rewritten with xlsxwriter from the cells read back, or the CSV text edited) and
the exact place and rule of the error are asserted. No mocks.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import fastexcel
import polars as pl
import pytest
import xlsxwriter
from stdnum import luhn
from xlsxwriter.worksheet import Worksheet

from ingest import provider_reports as reader
from ingest.pii import RULE_PERSONNUMMER, RULE_WITHOUT_ZERO
from ingest.spreadsheet import RULE_UNSAVED_FORMULA
from ingest.validation import FORMULA_EXPECTED, FORMULA_RULE, ReadResult
from sample_data.providers import generate

TODAY = date(2024, 6, 15)
HTJ_XLSX = "5567289045_HTJ_2023-03_v2.xlsx"  # Omsorg i Norrtälje AB, 2 units, rows 7–8
SABO_XLSX = "5567966857_SABO_2023-05.xlsx"  # Tiohundra AB, residential care, 8 units
CP1252_CSV = "5567294458_HTJ_2023-01.csv"  # Hemtjänst Hallstavik Norr AB
UTF8_BOM_CSV = "5590464656_SABOU_2023-01.csv"  # Solbacka Omsorg AB
PNR_12 = "19121212-1212"  # Skatteverket's test number: a valid personnummer
PNR_FORMS = ("19121212-1212", "191212121212", "121212-1212", "1212121212")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("providers")
    generate(out, scale=0.01, years=(2023,))
    return out / "provider_reports" / "2023"


@pytest.fixture
def work(tmp_path: Path) -> Path:
    return tmp_path


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def sheet_cells(path: Path) -> list[list[str | None]]:
    """Sheet Rapport as a list of rows (row 1 first), every cell as text or None."""
    sheet = fastexcel.read_excel(str(path)).load_sheet(
        "Rapport", header_row=None, skip_rows=0, dtypes="string"
    )
    return [list(row) for row in sheet.to_polars().rows()]


def write_xlsx(path: Path, rows: list[list[object]], sheet: str = "Rapport") -> Path:
    """Write rows (row 1 first) to a sheet; text that parses as a float becomes a number cell,
    other text a text cell, None nothing."""
    workbook = xlsxwriter.Workbook(str(path))
    worksheet = workbook.add_worksheet(sheet)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, int | float):
                worksheet.write_number(r, c, value)
                continue
            try:
                worksheet.write_number(r, c, float(value))
            except ValueError:
                worksheet.write_string(r, c, str(value))
    workbook.close()
    return path


def edited_xlsx(sample: Path, work: Path, edits: dict[str, object], name: str = HTJ_XLSX) -> Path:
    """A copy of a sample report with cells changed, e.g. ``{"E7": 150.01}`` (Excel address)."""
    rows = sheet_cells(sample / name)
    for address, value in edits.items():
        col = ord(address[0]) - ord("A")
        row = int(address[1:]) - 1
        while len(rows) <= row:
            rows.append([])
        while len(rows[row]) <= col:
            rows[row].append(None)
        rows[row][col] = value
    return write_xlsx(work / name, rows)


def report_with(
    sample: Path, work: Path, build: Callable[[xlsxwriter.Workbook, Worksheet], object]
) -> Path:
    """The sample report's cells (as text cells) on sheet Rapport, then ``build`` adds to the
    workbook and that sheet."""
    rows = sheet_cells(sample / HTJ_XLSX)
    workbook = xlsxwriter.Workbook(str(work / HTJ_XLSX))
    report = workbook.add_worksheet("Rapport")
    for r, row in enumerate(rows):
        report.write_row(r, 0, row)
    build(workbook, report)
    workbook.close()
    return work / HTJ_XLSX


def csv_text(sample: Path, name: str) -> tuple[str, str]:
    """(text, encoding) of a sample CSV."""
    data = (sample / name).read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    return data.decode("cp1252"), "cp1252"


def edited_csv(sample: Path, work: Path, name: str, old: str, new: str) -> Path:
    text, encoding = csv_text(sample, name)
    assert old in text
    path = work / name
    path.write_bytes(text.replace(old, new, 1).encode(encoding))
    return path


def errors_of(result: ReadResult) -> list[tuple[str, str]]:
    return [(error.place, error.rule) for error in result.errors]


def assert_rejected_with(result: ReadResult, *expected: tuple[str, str]) -> None:
    assert not result.ok and result.tables == {}
    assert errors_of(result) == list(expected)


def read(path: Path, today: date = TODAY) -> ReadResult:
    return reader.read(path, today=today)


# --------------------------------------------------------------------------------------------
# valid files
# --------------------------------------------------------------------------------------------
def test_reads_a_valid_xlsx_to_the_values_of_its_cells(sample: Path):
    path = sample / HTJ_XLSX
    result = read(path)
    assert result.ok, result.errors
    table = result.tables["provider_reports"]
    assert table.schema == reader.SCHEMA
    cells = sheet_cells(path)
    assert [row[0] for row in cells[6:8]] == table["unit_id"].to_list()
    row = table.row(0, named=True)
    assert row["org_nr"] == "556728-9045"
    assert row["provider_name"] == "Omsorg i Norrtälje AB"
    assert (row["area_code"], row["period"], row["report_version"]) == ("HTJ", "2023-03", 2)
    assert row["source_row"] == 7
    assert row["unit_name"] == cells[6][1]
    assert row["users"] == int(cells[6][2])
    assert row["granted_hours"] == Decimal(cells[6][3]).quantize(Decimal("0.01"))
    assert row["performed_hours"] == Decimal(cells[6][4]).quantize(Decimal("0.01"))
    assert row["users_with_care_plan"] == int(cells[6][5])
    assert row["staff_continuity"] == Decimal(cells[6][6]).quantize(Decimal("0.01"))
    assert table["source_row"].to_list() == [7, 8]


def test_version_is_1_without_suffix(sample: Path):
    result = read(sample / HTJ_XLSX.replace("_v2", ""))
    assert result.ok
    assert set(result.tables["provider_reports"]["report_version"]) == {1}


def test_residential_care_report_has_null_home_care_columns(sample: Path):
    table = read(sample / SABO_XLSX).tables["provider_reports"]
    assert table.height == 8
    home_care_only = table.select("granted_hours", "performed_hours", "staff_continuity")
    assert home_care_only.null_count().row(0) == (8, 8, 8)
    assert table["users"].null_count() == 0


def test_reads_a_windows_1252_csv(sample: Path):
    data = (sample / CP1252_CSV).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # really Windows-1252
    result = read(sample / CP1252_CSV)
    assert result.ok, result.errors
    table = result.tables["provider_reports"]
    row = table.row(0, named=True)
    assert row["provider_name"] == "Hemtjänst Hallstavik Norr AB"
    assert row["unit_name"].startswith("Hemtjänstgrupp ")
    text, _ = csv_text(sample, CP1252_CSV)
    fields = text.splitlines()[6].split(";")  # line 7: the first unit
    assert row["source_row"] == 7 and row["unit_id"] == fields[0]
    assert row["performed_hours"] == Decimal(fields[4].replace(",", "."))
    assert row["staff_continuity"] == Decimal(fields[6].replace(",", "."))


def test_reads_a_utf8_bom_csv_the_same_as_its_xlsx_twin(sample: Path, work: Path):
    assert (sample / UTF8_BOM_CSV).read_bytes().startswith(b"\xef\xbb\xbf")
    from_csv = read(sample / UTF8_BOM_CSV)
    assert from_csv.ok, from_csv.errors
    table = from_csv.tables["provider_reports"]
    assert table["provider_name"][0] == "Solbacka Omsorg AB"
    assert table["area_code"][0] == "SABOU" and table["granted_hours"].null_count() == 2
    # The same report as xlsx reads to the same rows.
    text, _ = csv_text(sample, UTF8_BOM_CSV)
    rows = [line.split(";") for line in text.splitlines()]
    rows = [[cell.replace(",", ".") if cell else None for cell in row] for row in rows]
    twin = read(write_xlsx(work / UTF8_BOM_CSV.replace(".csv", ".xlsx"), rows))
    assert twin.ok, twin.errors
    assert twin.tables["provider_reports"].equals(table)


def test_every_sample_file_is_accepted_and_the_calibration_holds(sample: Path):
    results = {path.name: read(path) for path in sorted(sample.iterdir())}
    assert len(results) == 265
    assert [name for name, result in results.items() if not result.ok] == []
    rows = pl.concat(result.tables["provider_reports"] for result in results.values())
    latest = rows.filter(
        pl.col("report_version")
        == pl.col("report_version").max().over("org_nr", "area_code", "period")
    )
    home = latest.filter(area_code="HTJ")
    assert round(100 * home["users_with_care_plan"].sum() / home["users"].sum()) == 90
    performed = home["performed_hours"].cast(pl.Float64).sum()
    assert round(100 * performed / home["granted_hours"].cast(pl.Float64).sum()) == 70


def test_accepts(sample: Path, work: Path):
    assert reader.accepts(sample / HTJ_XLSX)
    assert reader.accepts(sample / CP1252_CSV)
    assert reader.accepts(sample / UTF8_BOM_CSV)
    other = work / "visits.csv"
    other.write_text("visit_id,provider_org_nr\n1,556728-9045\n", encoding="utf-8")
    assert not reader.accepts(other)
    assert not reader.accepts(work / "response.json")


def test_lenient_layout_and_numbers_as_text(sample: Path, work: Path):
    """Labels in other case with spaces, no empty row before the table, leading empty rows,
    columns in another order, an extra column, numbers as text with comma or point, Excel's
    float noise, integers written 12,0."""
    cells = sheet_cells(sample / HTJ_XLSX)
    header = [["  organisationsnummer "] + cells[0][1:2], *[row[:2] for row in cells[1:4]]]
    table = [row[::-1] + ["note"] for row in cells[5:8]]  # columns in reverse order
    table[0][-1] = "Kommentar"
    granted, users = 10 - 3, 10 - 2  # their places when reversed
    table[1][granted] = "408,27"
    table[1][users] = "5,0"
    table[2][granted] = "310.82000000000005"
    path = write_xlsx(work / HTJ_XLSX, [[], *header, *table])
    result = read(path)
    assert result.ok, result.errors
    assert result.notes == ["1 extra column(s) in the table ignored"]
    got = result.tables["provider_reports"]
    assert got["source_row"].to_list() == [7, 8]  # leading empty row 1, header rows 2–5
    assert got["granted_hours"].to_list() == [Decimal("408.27"), Decimal("310.82")]
    assert got["users"][0] == 5


# --------------------------------------------------------------------------------------------
# personal identity numbers
# --------------------------------------------------------------------------------------------
def assert_no_pnr_leaks(result: ReadResult) -> None:
    assert result.tables == {}
    text = "\n".join(str(error) for error in result.errors) + "\n".join(result.notes)
    for form in PNR_FORMS:
        assert form not in text


def test_personnummer_in_a_table_cell_rejects_the_file(sample: Path, work: Path):
    path = edited_xlsx(sample, work, {"B7": f"Brukare {PNR_12}"})
    result = read(path)
    assert_rejected_with(result, ("sheet Rapport, row 7, column B (Enhetsnamn)", RULE_PERSONNUMMER))
    assert_no_pnr_leaks(result)


def test_personnummer_in_an_extra_column_rejects_the_file(sample: Path, work: Path):
    path = edited_xlsx(sample, work, {"L6": "Kommentar", "L8": "ring 121212-1212"})
    result = read(path)
    assert_rejected_with(result, ("sheet Rapport, row 8, column L", RULE_PERSONNUMMER))
    assert_no_pnr_leaks(result)


def test_personnummer_in_the_header_block_rejects_the_file(sample: Path, work: Path):
    path = edited_xlsx(sample, work, {"C2": "kontakt 1212121212"})
    result = read(path)
    assert_rejected_with(result, ("sheet Rapport, row 2, column C", RULE_PERSONNUMMER))
    assert_no_pnr_leaks(result)
    # In place of the org nr: no org nr rule, no file-name mismatch, only the rejection.
    result = read(edited_xlsx(sample, work, {"B1": PNR_12}))
    assert_rejected_with(
        result, ("sheet Rapport, row 1, column B (Organisationsnummer)", RULE_PERSONNUMMER)
    )
    assert_no_pnr_leaks(result)


def test_personnummer_as_a_header_value_in_a_csv(sample: Path, work: Path):
    path = edited_csv(sample, work, CP1252_CSV, "Hemtjänst Hallstavik Norr AB", "191212121212")
    result = read(path)
    # Reported as a personal identity number only, not also as an empty header field.
    assert_rejected_with(result, ("line 2, column 2 (Vårdgivare)", RULE_PERSONNUMMER))
    assert_no_pnr_leaks(result)


def test_personnummer_as_numbers_is_found_and_never_echoed(sample: Path, work: Path):
    # As number cells: 1212121212 as granted hours would give performed hours the bound
    # "≤ 1818181818.00", from which the number could be recovered; 191212121212 would be
    # "number outside the plausible range".
    path = edited_xlsx(sample, work, {"D7": 1212121212, "E7": 3000, "C8": 191212121212})
    result = read(path)
    assert_rejected_with(
        result,
        ("sheet Rapport, row 7, column D (Beviljade timmar)", RULE_PERSONNUMMER),
        ("sheet Rapport, row 8, column C (Antal brukare)", RULE_PERSONNUMMER),
    )
    assert_no_pnr_leaks(result)
    assert "1818181818" not in str(result.errors)


def test_org_nr_is_not_taken_for_a_personnummer(sample: Path):
    # 556728-9045 has the shape of a personal identity number but month 72.
    assert read(sample / HTJ_XLSX).ok


def test_personnummer_whose_leading_zero_was_dropped(sample: Path, work: Path):
    """050101-1233 typed as a number is 501011233: no column of the template takes 9 digits,
    so it is rejected as such (not as out of range, which would say nothing of why)."""
    result = read(edited_xlsx(sample, work, {"C7": 501011233, "H8": "501011233"}))
    assert_rejected_with(
        result,
        ("sheet Rapport, row 7, column C (Antal brukare)", RULE_WITHOUT_ZERO),
        ("sheet Rapport, row 8, column H (Avvikelser fall)", RULE_WITHOUT_ZERO),
    )
    assert all(error.personal_data for error in result.errors)
    assert "501011233" not in str(result.errors)


def test_personnummer_on_another_sheet_and_in_a_comment(sample: Path, work: Path):
    def build(workbook: xlsxwriter.Workbook, report: Worksheet) -> None:
        report.write_comment("B7", "brukare 19121212-1212")
        workbook.add_worksheet("Anteckningar").write_string("C4", "ring 121212 1212")

    result = read(report_with(sample, work, build))
    assert_rejected_with(
        result,
        ("sheet Anteckningar, row 4, column C", RULE_PERSONNUMMER),
        ("sheet Rapport, comment on cell B7", RULE_PERSONNUMMER),
    )
    assert_no_pnr_leaks(result)
    assert result.scanned and all(error.personal_data for error in result.errors)


def test_a_csv_whose_header_block_and_table_differ_in_encoding(sample: Path, work: Path):
    """The header block in UTF-8, the table in Windows-1252: said as such, at the first line
    that is not UTF-8 (not as a missing header field)."""
    text, _ = csv_text(sample, UTF8_BOM_CSV)
    lines = text.split("\r\n")
    path = work / UTF8_BOM_CSV
    path.write_bytes(
        b"\xef\xbb\xbf"
        + "\r\n".join(lines[:5]).encode("utf-8")
        + b"\r\n"
        + "\r\n".join(lines[5:]).encode("cp1252")
    )
    result = read(path)
    assert_rejected_with(
        result, ("line 6", "mixed encodings in one file: line 2 is UTF-8, this line is not")
    )
    assert result.scanned


# --------------------------------------------------------------------------------------------
# formulas
# --------------------------------------------------------------------------------------------
def test_text_that_a_spreadsheet_would_run_as_a_formula(sample: Path, work: Path):
    edits = {"B2": "+SUM(1)", "B7": "=cmd|' /C calc'!A0", "C8": "@SUM(1)", "A8": " =E1"}
    result = read(edited_xlsx(sample, work, edits))
    assert_rejected_with(
        result,
        ("sheet Rapport, row 2, column B (Vårdgivare)", FORMULA_RULE),
        ("sheet Rapport, row 7, column B (Enhetsnamn)", FORMULA_RULE),
        ("sheet Rapport, row 8, column A (Enhets-id)", FORMULA_RULE),
        ("sheet Rapport, row 8, column C (Antal brukare)", FORMULA_RULE),
    )
    assert result.errors[0].expected == FORMULA_EXPECTED
    # A name that starts with '-' is no formula; a signed number is a number.
    assert read(edited_xlsx(sample, work, {"B7": "- Norr -", "C7": "+5"})).ok
    path = edited_csv(sample, work, CP1252_CSV, "Hemtjänst Hallstavik Norr AB", "@SUM(1)")
    assert_rejected_with(read(path), ("line 2, column 2 (Vårdgivare)", FORMULA_RULE))


def test_a_formula_whose_value_was_not_saved(sample: Path, work: Path):
    """A formula that a program which does not calculate wrote (value 0, "recalculate when
    opened"): said as such, not as a rule its 0 breaks (care plans ≤ 0 users)."""
    result = read(report_with(sample, work, lambda _, report: report.write_formula("C7", "=2+3")))
    assert_rejected_with(
        result, ("sheet Rapport, row 7, column C (Antal brukare)", RULE_UNSAVED_FORMULA)
    )
    assert "open the file in Excel and save it" in result.errors[0].expected


# --------------------------------------------------------------------------------------------
# header block and file name
# --------------------------------------------------------------------------------------------
def with_org_nr(sample: Path, work: Path, org_nr: str) -> Path:
    path = edited_xlsx(sample, work, {"B1": org_nr})
    return path.rename(path.with_name(HTJ_XLSX.replace("5567289045", org_nr.replace("-", ""))))


def test_org_nr_with_a_wrong_check_digit(sample: Path, work: Path):
    result = read(with_org_nr(sample, work, "556728-9046"))
    assert_rejected_with(
        result,
        ("sheet Rapport, row 1 (Organisationsnummer)", reader.RULE_CHECK_DIGIT),
    )
    assert result.errors[0].expected == "NNNNNN-NNNN with a valid check digit"


def test_org_nr_of_a_natural_person_is_rejected(sample: Path, work: Path):
    digits = "551300123"  # 3rd digit 1; month 13, so not a personnummer either
    org_nr = f"{digits[:6]}-{digits[6:]}{luhn.calc_check_digit(digits)}"
    result = read(with_org_nr(sample, work, org_nr))
    assert_rejected_with(
        result,
        (
            "sheet Rapport, row 1 (Organisationsnummer)",
            "not the organisation number of a legal person (3rd digit below 2)",
        ),
    )


def test_unknown_provider(sample: Path, work: Path):
    digits = "556999000"
    org_nr = f"{digits[:6]}-{digits[6:]}{luhn.calc_check_digit(digits)}"
    result = read(with_org_nr(sample, work, org_nr))
    assert_rejected_with(
        result,
        (
            "sheet Rapport, row 1 (Organisationsnummer)",
            "unknown provider (not in the provider register)",
        ),
    )


def test_org_nr_without_hyphen_is_accepted_and_normalised(sample: Path, work: Path):
    result = read(edited_xlsx(sample, work, {"B1": "5567289045"}))
    assert result.ok, result.errors
    assert set(result.tables["provider_reports"]["org_nr"]) == {"556728-9045"}


def test_unknown_area(sample: Path, work: Path):
    path = edited_xlsx(sample, work, {"B3": "HTX"}).rename(work / HTJ_XLSX.replace("HTJ", "HTX"))
    result = read(path)
    assert_rejected_with(
        result,
        (
            "sheet Rapport, row 3 (Avtalsområde)",
            "unknown contract area (not in the register of contract areas)",
        ),
    )


def test_area_not_in_force_in_the_period_year(sample: Path, work: Path):
    # TURB (turbundna resor) is in force 2020–2024; the other rules do not care for the area.
    cells = sheet_cells(sample / SABO_XLSX)
    cells[2][1], cells[3][1] = "TURB", "2025-02"
    path = write_xlsx(work / "5567966857_TURB_2025-02.xlsx", cells)
    result = read(path, today=date(2025, 3, 1))
    assert_rejected_with(
        result,
        ("sheet Rapport, row 3 (Avtalsområde)", "contract area TURB is not in force in 2025"),
    )


def test_future_period(sample: Path):
    result = read(sample / HTJ_XLSX, today=date(2023, 2, 28))
    assert_rejected_with(result, ("sheet Rapport, row 4 (Period)", "period is in the future"))
    assert result.errors[0].expected == "2023-02 or earlier"
    assert read(sample / HTJ_XLSX, today=date(2023, 3, 1)).ok  # the current month is fine


def test_period_that_excel_turned_into_a_date(sample: Path, work: Path):
    cells = sheet_cells(sample / HTJ_XLSX)
    path = work / HTJ_XLSX
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Rapport")
    for r, row in enumerate(cells):
        for c, value in enumerate(row):
            if value is not None and (r, c) != (3, 1):
                sheet.write(r, c, value)
    sheet.write_datetime(3, 1, date(2023, 3, 1), workbook.add_format({"num_format": "yyyy-mm"}))
    workbook.close()
    result = read(path)
    assert_rejected_with(
        result, ("sheet Rapport, row 4 (Period)", "not a month in the form YYYY-MM")
    )


def test_file_name_disagrees_with_the_header_block(sample: Path, work: Path):
    path = work / "5567289045_HTJ_2023-04_v2.xlsx"
    shutil.copy(sample / HTJ_XLSX, path)
    result = read(path)
    assert_rejected_with(
        result,
        (
            "file name",
            "the period in the file name (2023-04) differs from the header block's Period",
        ),
    )
    path = work / "5567966857_HTJ_2023-03_v2.xlsx"
    shutil.copy(sample / HTJ_XLSX, path)
    assert errors_of(read(path)) == [
        (
            "file name",
            "the org nr in the file name differs from the header block's Organisationsnummer",
        )
    ]


@pytest.mark.parametrize(
    "name", ["report.xlsx", "5567289045_HTJ_2023-13.xlsx", "5567289045_HTJ_2023-03_v1.xlsx"]
)
def test_file_name_not_following_the_pattern(sample: Path, work: Path, name: str):
    path = work / name
    shutil.copy(sample / HTJ_XLSX, path)
    result = read(path)
    assert_rejected_with(result, ("file name", "file name does not follow the naming rule"))


def test_extension_is_case_insensitive(sample: Path, work: Path):
    path = work / HTJ_XLSX.replace(".xlsx", ".XLSX")
    shutil.copy(sample / HTJ_XLSX, path)
    assert read(path).ok


def test_no_sheet_named_rapport(sample: Path, work: Path):
    path = write_xlsx(work / HTJ_XLSX, sheet_cells(sample / HTJ_XLSX), sheet="Blad1")
    assert_rejected_with(read(path), ("file", "no sheet named Rapport"))


def test_empty_and_missing_header_fields(sample: Path, work: Path):
    cells = sheet_cells(sample / HTJ_XLSX)
    cells[1][1] = None  # Vårdgivare empty
    del cells[3]  # no Period row
    result = read(write_xlsx(work / HTJ_XLSX, cells))
    assert_rejected_with(
        result,
        ("sheet Rapport, row 2 (Vårdgivare)", "header field is empty"),
        ("sheet Rapport, header block", "missing header field Period"),
    )


# --------------------------------------------------------------------------------------------
# table
# --------------------------------------------------------------------------------------------
def test_performed_hours_above_one_and_a_half_times_granted(sample: Path, work: Path):
    path = edited_xlsx(sample, work, {"D7": 100, "E7": 150.01, "D8": 100, "E8": 150})
    result = read(path)
    assert_rejected_with(
        result,
        ("sheet Rapport, row 7, column E (Utförda timmar)", reader.RULE_PERFORMED),
    )
    assert result.errors[0].expected == "≤ 150.00"
    result = read(edited_xlsx(sample, work, {"D7": 0, "E7": 0.01}))
    assert result.errors[0].rule == reader.RULE_PERFORMED
    assert result.errors[0].expected == "≤ 0.00"


def test_negative_hours(sample: Path, work: Path):
    result = read(edited_xlsx(sample, work, {"D8": -5}))
    assert_rejected_with(
        result, ("sheet Rapport, row 8, column D (Beviljade timmar)", "negative number")
    )
    assert result.errors[0].expected == "a number ≥ 0 with at most 2 decimals"


def test_hours_with_more_than_two_decimals(sample: Path, work: Path):
    result = read(edited_xlsx(sample, work, {"G7": 5.125}))
    assert_rejected_with(
        result, ("sheet Rapport, row 7, column G (Personalkontinuitet)", "more than 2 decimals")
    )


def test_users_not_a_whole_number(sample: Path, work: Path):
    result = read(edited_xlsx(sample, work, {"C7": 5.5, "H8": "1,5"}))
    assert_rejected_with(
        result,
        ("sheet Rapport, row 7, column C (Antal brukare)", "not a whole number"),
        ("sheet Rapport, row 8, column H (Avvikelser fall)", "not a whole number"),
    )
    assert result.errors[0].expected == "a whole number ≥ 0"


def test_not_a_number_and_empty_required_cell(sample: Path, work: Path):
    result = read(edited_xlsx(sample, work, {"I7": "två", "K8": None}))
    assert_rejected_with(
        result,
        ("sheet Rapport, row 7, column I (Avvikelser läkemedel)", "not a number"),
        ("sheet Rapport, row 8, column K (Ej verkställda beslut)", reader.RULE_EMPTY),
    )


LARGEST = {"C": 10_000, "D": 100_000, "E": 100_000, "F": 10_000, "G": 1_000}
LARGEST |= dict.fromkeys("HIJK", 10_000)


def test_the_largest_plausible_values_are_accepted(sample: Path, work: Path):
    result = read(edited_xlsx(sample, work, {f"{col}7": v for col, v in LARGEST.items()}))
    assert result.ok
    row = result.tables[reader.TABLE].row(0, named=True)
    assert (row["users"], row["performed_hours"], row["staff_continuity"]) == (
        10_000,
        Decimal("100000.00"),
        Decimal("1000.00"),
    )
    assert row["incidents_other"] == row["unexecuted_decisions"] == 10_000


def test_values_just_above_their_bound_are_rejected_with_the_range(sample: Path, work: Path):
    above = {f"{col}7": v + (0.01 if col in "DEG" else 1) for col, v in LARGEST.items()}
    result = read(edited_xlsx(sample, work, above))
    assert not result.ok
    got = [(e.place.split(", ", 2)[2], e.rule, e.expected) for e in result.errors]
    rule = "number outside the plausible range"
    assert got == [
        ("column C (Antal brukare)", rule, "0 to 10000 users a unit and month"),
        ("column D (Beviljade timmar)", rule, "0 to 100000 hours a unit and month"),
        ("column E (Utförda timmar)", rule, "0 to 100000 hours a unit and month"),
        (
            "column F (Brukare med aktuell genomförandeplan)",
            rule,
            "0 to 10000 users a unit and month",
        ),
        ("column G (Personalkontinuitet)", rule, "0 to 1000 staff a user met in 14 days"),
        ("column H (Avvikelser fall)", rule, "0 to 10000 a unit and month"),
        ("column I (Avvikelser läkemedel)", rule, "0 to 10000 a unit and month"),
        ("column J (Avvikelser övriga)", rule, "0 to 10000 a unit and month"),
        ("column K (Ej verkställda beslut)", rule, "0 to 10000 a unit and month"),
    ]
    assert all(e.place.startswith("sheet Rapport, row 7, ") for e in result.errors)


@pytest.mark.parametrize("text", ["1E+400", "-1E+400"])
def test_an_infinite_number_is_rejected(sample: Path, work: Path, text: str):
    path = edited_csv(sample, work, CP1252_CSV, ";1;0;0;1\r\n", f";1;0;0;{text}\r\n")
    [error] = read(path).errors
    assert error.place.endswith("column 11 (Ej verkställda beslut)")
    assert error.rule == ("negative number" if text[0] == "-" else reader.RULE_OUT_OF_RANGE)


def test_more_units_than_plausible_in_one_report(sample: Path, work: Path):
    text, encoding = csv_text(sample, CP1252_CSV)
    lines = text.splitlines()
    units = [f"E{20000 + i};Grupp {i};1;10;10;0;5;0;0;0;0" for i in range(reader.MAX_UNITS + 1)]
    path = work / CP1252_CSV
    path.write_bytes("\r\n".join([*lines[:6], *units, ""]).encode(encoding))
    assert_rejected_with(read(path), ("line 1007 (unit rows)", "more than 1000 unit rows"))
    path.write_bytes("\r\n".join([*lines[:6], *units[:-1], ""]).encode(encoding))
    assert read(path).ok


def test_a_table_header_without_any_known_column(sample: Path, work: Path):
    text, encoding = csv_text(sample, CP1252_CSV)
    lines = text.splitlines()
    path = work / CP1252_CSV
    path.write_bytes("\r\n".join([*lines[:5], "x;y", "1;2", ""]).encode(encoding))
    result = read(path)
    assert not result.ok
    assert errors_of(result)[0] == ("line 6 (table header)", "missing column Enhets-id")
    assert len(result.errors) == len(reader.COLUMNS)


def test_care_plans_above_users(sample: Path, work: Path):
    result = read(edited_xlsx(sample, work, {"C7": 5, "F7": 6}))
    assert_rejected_with(
        result,
        (
            "sheet Rapport, row 7, column F (Brukare med aktuell genomförandeplan)",
            reader.RULE_CARE_PLAN,
        ),
    )
    assert result.errors[0].expected == "≤ 5 (Antal brukare)"


def test_missing_column(sample: Path, work: Path):
    cells = [row[:5] + row[6:] for row in sheet_cells(sample / HTJ_XLSX)]
    result = read(write_xlsx(work / HTJ_XLSX, cells))
    assert_rejected_with(
        result,
        (
            "sheet Rapport, row 6 (table header)",
            "missing column Brukare med aktuell genomförandeplan",
        ),
    )


def test_duplicated_and_malformed_unit_ids(sample: Path, work: Path):
    cells = sheet_cells(sample / SABO_XLSX)
    cells[8][0] = cells[6][0]  # row 9 repeats row 7's unit
    cells[9][0] = "E1234"
    result = read(write_xlsx(work / SABO_XLSX, cells))
    assert_rejected_with(
        result,
        ("sheet Rapport, row 9, column A (Enhets-id)", reader.RULE_UNIT_ID_DUPLICATE),
        ("sheet Rapport, row 10, column A (Enhets-id)", reader.RULE_UNIT_ID),
    )
    assert result.errors[0].expected == "each unit once (this unit id is also at row 7)"


def test_home_care_columns_in_a_residential_care_report(sample: Path, work: Path):
    result = read(edited_xlsx(sample, work, {"E9": 12.5}, name=SABO_XLSX))
    assert_rejected_with(
        result, ("sheet Rapport, row 9, column E (Utförda timmar)", reader.RULE_HTJ_ONLY)
    )


def test_home_care_columns_required_in_a_home_care_report(sample: Path, work: Path):
    result = read(edited_xlsx(sample, work, {"G8": None}))
    assert_rejected_with(
        result,
        ("sheet Rapport, row 8, column G (Personalkontinuitet)", "empty cell in a required column"),
    )


def test_no_unit_rows(sample: Path, work: Path):
    cells = sheet_cells(sample / HTJ_XLSX)[:6]
    result = read(write_xlsx(work / HTJ_XLSX, cells))
    assert_rejected_with(
        result, ("sheet Rapport, row 6 (table header)", "no unit rows under the table header")
    )


def test_rows_below_the_first_empty_row_are_ignored_with_a_note(sample: Path, work: Path):
    cells = sheet_cells(sample / HTJ_XLSX)
    result = read(write_xlsx(work / HTJ_XLSX, [*cells, [], ["Summa", None, 10]]))
    assert result.ok and result.tables["provider_reports"].height == 2
    assert result.notes == ["1 non-empty row(s) below the table's first empty row ignored"]


def test_errors_in_a_csv_name_line_and_field(sample: Path, work: Path):
    text, _ = csv_text(sample, CP1252_CSV)
    second_unit = text.splitlines()[7].split(";")
    broken = ";".join([*second_unit[:3], "12,345", *second_unit[4:]])
    result = read(edited_csv(sample, work, CP1252_CSV, ";".join(second_unit), broken))
    assert_rejected_with(result, ("line 8, column 4 (Beviljade timmar)", "more than 2 decimals"))


def test_csv_line_numbers_count_line_breaks_inside_quoted_fields(sample: Path, work: Path):
    text, _ = csv_text(sample, UTF8_BOM_CSV)
    first, second = text.splitlines()[6:8]
    fields = first.split(";")
    fields[1] = f'"{fields[1]}\r\nhus B"'
    moved = ";".join(fields)
    bad_second = second.replace(second.split(";")[2], "-1", 1)
    path = work / UTF8_BOM_CSV
    path.write_bytes(text.replace(first, moved).replace(second, bad_second).encode("utf-8-sig"))
    result = read(path)
    assert_rejected_with(result, ("line 9, column 3 (Antal brukare)", "negative number"))


def test_undecodable_csv(work: Path):
    path = work / "5567294458_HTJ_2023-01.csv"
    path.write_bytes(b"Organisationsnummer;556729-4458\r\nV\x81rdgivare;\xc3\r\n")
    assert_rejected_with(read(path), ("line 2", "the file is neither UTF-8 nor Windows-1252"))


def test_csv_not_separated_by_semicolons(sample: Path, work: Path):
    text, encoding = csv_text(sample, CP1252_CSV)
    path = work / CP1252_CSV
    path.write_bytes(text.replace(";", ",").encode(encoding))
    assert_rejected_with(read(path), ("line 1", "fields are not separated by ';'"))


def test_errors_are_capped_per_rule(sample: Path, work: Path):
    text, encoding = csv_text(sample, CP1252_CSV)
    lines = text.splitlines()
    count = reader.MAX_ERRORS_PER_RULE + 7
    units = [f"E{20000 + i};Grupp {i};1,5;100;100;0;5;0;0;0;0" for i in range(count)]
    path = work / CP1252_CSV
    path.write_bytes("\r\n".join([*lines[:6], *units, ""]).encode(encoding))
    result = read(path)
    assert len(result.errors) == reader.MAX_ERRORS_PER_RULE + 1
    assert result.errors[0].place == "line 7, column 3 (Antal brukare)"
    assert result.errors[-1].place == "file"
    assert result.errors[-1].rule == "not a whole number — 7 more not listed"
