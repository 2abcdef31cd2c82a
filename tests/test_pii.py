import polars as pl
import pytest

from ingest.pii import contains_personnummer, find_personnummer, is_personnummer


@pytest.mark.parametrize(
    "text",
    [
        "19121212-1212",
        "191212121212",
        "121212-1212",
        "1212121212",
        "121212+1212",
        "Brukare 19121212-1212 i Rimbo",
        "tel 0701234567 191212121212",
        "197010632391",  # samordningsnummer: day + 60
    ],
)
def test_finds_personal_identity_numbers(text):
    assert contains_personnummer(text)


@pytest.mark.parametrize(
    "text",
    [
        "556796-6857",  # an organisation number: its "month" is 67
        "19121212-1213",  # wrong check digit
        "12345678901234",  # a longer run of digits is no identity number
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
            "unit_name": ["Hemtjänst Rimbo", "Brukare 121212-1212"],
            "remark": ["tel 0701234567 191212121212", None],
        }
    )
    assert find_personnummer(frame) == [(0, "remark"), (1, "unit_name")]


@pytest.mark.parametrize("text", ["", "Θj", "lj12345678", "1212121212x", "12-12", "#ORGNR"])
def test_text_of_another_shape_is_no_personal_identity_number(text):
    assert not is_personnummer(text)
