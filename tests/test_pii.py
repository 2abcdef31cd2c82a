import duckdb
import polars as pl
import pytest
from stdnum import luhn

from ingest.pii import (
    CANDIDATE,
    SEPARATORS,
    contains_personnummer,
    find_personnummer,
    find_personnummer_without_leading_zero,
    is_personnummer,
    is_personnummer_without_leading_zero,
)

# Valid numbers (date and Luhn check digit), in their 10 digits.
PERSONNUMMER = "1212121212"  # 1912-12-12
SAMORDNINGSNUMMER = "7010632391"  # 1970-10-03: day + 60
BORN_2005 = "0501011233"  # 2005-01-01: a number cell drops its leading zero
ORG_NR = "5520121236"  # a valid organisation number: "month" 20 (third digit 2)
BAD_DATE = "1200001236"  # a valid check digit, but no date: month 0, day 0


def written(digits: str, separator: str, century: str = "") -> str:
    return f"{century}{digits[:6]}{separator}{digits[6:]}"


def test_the_numbers_are_what_the_tests_say():
    assert all(luhn.is_valid(n) for n in (PERSONNUMMER, SAMORDNINGSNUMMER, BORN_2005, ORG_NR))
    assert luhn.is_valid(BAD_DATE)


@pytest.mark.parametrize("separator", ["", *SEPARATORS])
@pytest.mark.parametrize(
    ("digits", "century"),
    [(PERSONNUMMER, ""), (PERSONNUMMER, "19"), (SAMORDNINGSNUMMER, ""), (SAMORDNINGSNUMMER, "19")],
)
def test_finds_every_form(digits, century, separator):
    number = written(digits, separator, century)
    assert is_personnummer(number)
    assert contains_personnummer(number)
    assert contains_personnummer(f"Hemtjänstgrupp Hallstavik (kund {number})")
    assert contains_personnummer(f"{number}kr")


@pytest.mark.parametrize(
    "text",
    [
        "19121212-1212",
        "121212 1212",
        "121212\u20131212",  # en dash
        "121212\u20141212",  # em dash
        "Brukare 19121212-1212 i Rimbo",
        "tel 0701234567 191212121212",
        "tel 0701234567 121212 1212",
        "Hemtjänstgrupp Hallstavik (kund 121212 1212)",
        "2023 121212 1212",  # a number glued to the year before it is still found
    ],
)
def test_finds_personal_identity_numbers_in_text(text):
    assert contains_personnummer(text)


@pytest.mark.parametrize("separator", ["", *SEPARATORS])
@pytest.mark.parametrize(
    "number",
    [
        ORG_NR,  # an organisation number: its "month" is 20
        "5567966857",  # and 67
        "1212121213",  # wrong check digit
        "7010632392",  # wrong check digit (samordningsnummer)
        BAD_DATE,  # "2023 120000 1236": no date, though the check digit fits
    ],
)
def test_no_organisation_number_nor_invalid_number(number, separator):
    text = written(number, separator)
    assert not is_personnummer(text)
    assert not contains_personnummer(f"kund {text} 2023")
    assert not contains_personnummer(written(number, separator, "19"))


@pytest.mark.parametrize(
    "text",
    [
        "12345678901234",  # a longer run of digits is no identity number
        "1121212-1212",  # nor a number with a digit in front
        "121212-12121",  # or behind
        "121212--1212",  # two separators
        "121212 - 1212",
        "1212 12 1212",
        "E10001",
        "Ufe01dc2a1406",
        "",
    ],
)
def test_leaves_other_values_alone(text):
    assert not contains_personnummer(text)


def test_find_names_row_and_column_only():
    frame = pl.DataFrame(
        {
            "unit_name": ["Hemtjänst Rimbo", "Brukare 121212\u20131212", None],
            "remark": ["tel 0701234567 191212121212", None, "kund 121212 1212"],
            "count": [1, 2, 3],
        }
    )
    assert find_personnummer(frame) == [(0, "remark"), (1, "unit_name"), (2, "remark")]
    assert find_personnummer(frame, ["unit_name"]) == [(1, "unit_name")]


@pytest.mark.parametrize("text", ["", "Θj", "lj12345678", "1212121212x", "12-12", "#ORGNR"])
def test_text_of_another_shape_is_no_personal_identity_number(text):
    assert not is_personnummer(text)


@pytest.mark.parametrize("cell", [BORN_2005[1:], f"{BORN_2005[1:]}.0", f" {BORN_2005[1:]} "])
def test_finds_a_number_cell_whose_leading_zero_was_dropped(cell):
    assert is_personnummer_without_leading_zero(cell)
    assert not contains_personnummer(cell)  # 9 digits: only in columns where none belongs


@pytest.mark.parametrize(
    "cell",
    [
        "501011234",  # wrong check digit
        BORN_2005,  # 10 digits: contains_personnummer's
        f"x{BORN_2005[1:]}",
        f"{BORN_2005[1:]}.5",
        "552012123",  # an organisation number's 9 last digits
        "",
    ],
)
def test_other_cells_have_no_dropped_leading_zero(cell):
    assert not is_personnummer_without_leading_zero(cell)


def test_find_cells_whose_leading_zero_was_dropped():
    frame = pl.DataFrame(
        {"unit_name": ["Rimbo", BORN_2005[1:], None], "n": ["501011234", None, "7"]}
    )
    assert find_personnummer_without_leading_zero(frame) == [(1, "unit_name")]


def test_candidate_finds_in_duckdb_what_python_finds():
    # RE2 (DuckDB) has no look-around: CANDIDATE must find every form all the same.
    texts = [
        *(f"kund {written(PERSONNUMMER, s)})" for s in ["", *SEPARATORS]),
        f"Brukare {written(SAMORDNINGSNUMMER, ' ', '19')}ä",
        "tel 0701234567 121212 1212",
        f"nr {written(PERSONNUMMER, '-')}x",
    ]
    con = duckdb.connect()
    for text in texts:
        (found,) = con.execute("SELECT regexp_extract_all(?, ?, 2)", [text, CANDIDATE]).fetchone()
        assert any(is_personnummer(c) for c in found), text
    for text in ["12345678901234", f"kund {written(ORG_NR, ' ')}", "1121212-12121"]:
        (found,) = con.execute("SELECT regexp_extract_all(?, ?, 2)", [text, CANDIDATE]).fetchone()
        assert not any(is_personnummer(c) for c in found), text


def test_digits_are_ascii_digits():
    arabic = "".join(chr(0x0660 + int(c)) for c in PERSONNUMMER)
    assert not contains_personnummer(f"kund {arabic}")
    assert not is_personnummer_without_leading_zero(arabic[1:])
