"""Personal identity numbers (personnummer, samordningsnummer) in input files.

Care data must not carry identities into the warehouse. A candidate is 10 or 12 digits with
``-``, ``+``, a space, an en dash or an em dash, or nothing, before the last four
(``121212-1212``, ``19121212 1212``, ``1212121212``), standing alone: not part of a longer run
of digits, anywhere in a text ("kund 121212 1212"). It counts as a personal identity number
when its date is valid (a samordningsnummer's day is the day of birth + 60) and so is its
Luhn check digit (python-stdnum). Organisation numbers never are: their "month" (third
digit ≥ 2) is 20 or more. A number cell whose leading zero Excel dropped (9 digits, born
1900–1909 or 2000–2009) is found by :func:`is_personnummer_without_leading_zero`; use it only
in columns where no 9-digit number belongs (about 1 in 140 random ones validates).

Findings name the row and column, never the number.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

import polars as pl
from stdnum import luhn
from stdnum.exceptions import ValidationError
from stdnum.se import personnummer

# What may stand between the date and the last four digits: -, +, space, en dash, em dash.
SEPARATORS = "+ \u2013\u2014-"
# The digits of a candidate (no boundaries): for a fast first pass over whole columns. ASCII
# digits only (``\d`` is Unicode in polars and ``re``, ASCII in RE2).
SHAPE = rf"[0-9]{{6}}(?:[0-9]{{2}})?[{SEPARATORS}]?[0-9]{{4}}"
# For DuckDB (RE2: no look-around); the number is group 2. The end is zero-width (``\b``,
# ASCII in RE2) unless a letter or ``_`` follows, which it consumes: then a second number
# right behind that letter is missed, so use it to find candidates, ``is_personnummer`` to
# decide. Not for polars or ``re``, whose ``\b`` knows non-ASCII letters.
CANDIDATE = rf"(^|[^0-9])({SHAPE})(?:\b|[A-Za-z_])"
_STANDALONE = re.compile(rf"(?<![0-9])({SHAPE})(?![0-9])")
_SHAPE = re.compile(SHAPE)
# A number cell of 9 digits (Excel's float text may add ".0").
WITHOUT_ZERO = r"^\s*([0-9]{9})(?:[.,]0+)?\s*$"
_WITHOUT_ZERO = re.compile(WITHOUT_ZERO)

# The rules every reader reports (never with the number): the file is rejected and not copied
# into quarantine. SIE ledgers (KSON's own books) mask instead, with ``MASK``.
RULE_PERSONNUMMER = (
    "personal identity number (personnummer or samordningsnummer) — remove it; the file is rejected"
)
RULE_WITHOUT_ZERO = (
    "a number that is a personal identity number whose leading zero was dropped — remove it; "
    "the file is rejected"
)
RULE_FILE_NAME = (
    "personal identity number in the file name — rename the file and send it again; it is "
    "shown by its hash"
)
PERSONAL_DATA_RULES = frozenset({RULE_PERSONNUMMER, RULE_WITHOUT_ZERO, RULE_FILE_NAME})
MASK = "[personnummer]"


@cache
def is_personnummer(candidate: str) -> bool:
    """A valid personnummer or samordningsnummer (day of birth + 60), 10 or 12 digits, with
    one of ``SEPARATORS`` or none before the last four; text of any other shape is not."""
    return _SHAPE.fullmatch(candidate) is not None and _valid(candidate)


def _valid(candidate: str) -> bool:
    digits = "".join(c for c in candidate if c in "0123456789")
    if len(digits) == 12 and not digits.startswith(("18", "19", "20")):
        return False
    # stdnum's form: the date, then - (or + for 100 years and older), then the last four.
    number = f"{digits[:-4]}{'+' if '+' in candidate else '-'}{digits[-4:]}"
    if personnummer.is_valid(number):
        return True
    day_at = len(digits) - 6
    day = int(digits[day_at : day_at + 2])
    if not 61 <= day <= 91 or not luhn.is_valid(digits[-10:]):
        return False
    # python-stdnum knows no samordningsnummer: check the date with the real day.
    real = f"{number[:day_at]}{day - 60:02d}{number[day_at + 2 :]}"
    try:
        personnummer.get_birth_date(real)
    except ValidationError:
        return False
    return True


def contains_personnummer(text: str) -> bool:
    """Whether one string holds a personal identity number (for single cells)."""
    return any(is_personnummer(m.group(1)) for m in _STANDALONE.finditer(text))


def mask_personnummer(text: str) -> tuple[str, int]:
    """``text`` with every personal identity number in it replaced by ``MASK``, and how many
    were replaced."""
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        if not is_personnummer(match.group(1)):
            return match.group(0)
        count += 1
        return MASK

    return _STANDALONE.sub(replace, text), count


def is_personnummer_without_leading_zero(cell: str) -> bool:
    """Whether a number cell (``501011234``, or Excel's ``501011234.0``) is a 10-digit
    personal identity number whose leading zero was dropped."""
    match = _WITHOUT_ZERO.fullmatch(cell)
    return match is not None and is_personnummer("0" + match.group(1))


def find_personnummer(
    frame: pl.DataFrame, columns: list[str] | None = None
) -> list[tuple[int, str]]:
    """(row index, column) of every cell of the string columns holding a personal identity
    number. Vectorised: a regex pass per column, python-stdnum only on the few candidates."""
    return _find(frame, columns, SHAPE, contains_personnummer)


def find_personnummer_without_leading_zero(
    frame: pl.DataFrame, columns: list[str] | None = None
) -> list[tuple[int, str]]:
    """(row index, column) of every cell of the string columns that is a personal identity
    number with its leading zero dropped (only for columns where no 9-digit number belongs)."""
    return _find(frame, columns, WITHOUT_ZERO, is_personnummer_without_leading_zero)


def _find(
    frame: pl.DataFrame, columns: list[str] | None, pattern: str, check: Callable[[str], bool]
) -> list[tuple[int, str]]:
    """Cells of ``columns`` (default: the string columns) matching ``pattern`` for which
    ``check`` holds."""
    found: list[tuple[int, str]] = []
    names = columns or [name for name, dtype in frame.schema.items() if dtype == pl.String]
    for name in names:
        rows = (
            frame.select(pl.col(name).str.contains(pattern).fill_null(False).alias("hit"))
            .with_row_index("row")
            .filter("hit")["row"]
        )
        found += [(row, name) for row in rows if check(frame[name][row])]
    return sorted(found)
