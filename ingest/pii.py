"""Personal identity numbers (personnummer, samordningsnummer) in input files.

Care data must not carry identities into the warehouse. A candidate is a run of 10 or 12
digits, optionally with ``-`` or ``+`` before the last four, standing alone (not part of a
longer run of digits); it counts as a personal identity number when python-stdnum finds it
valid (date, including samordningsnummer's day + 60, and Luhn check digit). Organisation
numbers never are: their "month" is 20 or more.

Findings name the row and column, never the number.
"""

from __future__ import annotations

import re
from functools import cache

import polars as pl
from stdnum import luhn
from stdnum.exceptions import ValidationError
from stdnum.se import personnummer

# RE2 (polars and DuckDB) has no look-around: the number is group 2. It consumes the
# character after the number, so a second number right behind a first one can be missed:
# use it to find candidate cells, and ``contains_personnummer`` to decide on a cell.
CANDIDATE = r"(^|[^0-9])(\d{6}(?:\d{2})?[-+]?\d{4})([^0-9]|$)"
_STANDALONE = re.compile(r"(?<![0-9])(\d{6}(?:\d{2})?[-+]?\d{4})(?![0-9])")
_SHAPE = re.compile(r"\d{6}(?:\d{2})?[-+]?\d{4}")


@cache
def is_personnummer(candidate: str) -> bool:
    """A valid personnummer or samordningsnummer (day of birth + 60), 10 or 12 digits; text
    of any other shape is not."""
    return _SHAPE.fullmatch(candidate) is not None and _valid(candidate)


def _valid(candidate: str) -> bool:
    digits = candidate.replace("-", "").replace("+", "")
    if len(digits) == 12 and not digits.startswith(("18", "19", "20")):
        return False
    if personnummer.is_valid(candidate):
        return True
    day_at = len(candidate) - 6 - (1 if candidate[-5] in "-+" else 0)
    day = int(candidate[day_at : day_at + 2])
    if not 61 <= day <= 91 or not luhn.is_valid(digits[-10:]):
        return False
    # python-stdnum knows no samordningsnummer: check the date with the real day.
    real = f"{candidate[:day_at]}{day - 60:02d}{candidate[day_at + 2 :]}"
    try:
        personnummer.get_birth_date(real)
    except ValidationError:
        return False
    return True


def contains_personnummer(text: str) -> bool:
    """Whether one string holds a personal identity number (for single cells)."""
    return any(is_personnummer(m.group(1)) for m in _STANDALONE.finditer(text))


def find_personnummer(
    frame: pl.DataFrame, columns: list[str] | None = None
) -> list[tuple[int, str]]:
    """(row index, column) of every cell of the string columns holding a personal identity
    number. Vectorised: a regex pass per column, python-stdnum only on the few candidates."""
    found: list[tuple[int, str]] = []
    names = columns or [name for name, dtype in frame.schema.items() if dtype == pl.String]
    for name in names:
        candidates = (
            frame.select(pl.col(name).str.extract_all(r"\d{6}(?:\d{2})?[-+]?\d{4}").alias("c"))
            .with_row_index("row")
            .explode("c")
            .drop_nulls("c")
        )
        if candidates.is_empty():
            continue
        for row, text in candidates.iter_rows():
            if is_personnummer(text) and contains_personnummer(str(frame[name][row])):
                found.append((row, name))
    return sorted(set(found))
