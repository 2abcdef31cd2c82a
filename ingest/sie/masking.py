"""Personal identity numbers in a ledger are masked, not rejected.

An SIE file is KSON's own books, and a supplier's invoice text may carry a personnummer:
rejecting the file would lose the year's ledger. So before a line is read, every personal
identity number in it (``ingest.pii``: every form, inside longer text too) is replaced by
``pii.MASK``: in texts, signs, names, object lists, ``#PROSA``, ``#ADRESS``, ``#ORGNR``, unknown
records and their labels, and lines that are no record at all. Only a field where the
specification puts a number (amount, quantity, date, period, year, ``#KSUMMA``'s checksum)
that holds a plain number is left as it is: it is a number, not an identity, and masking it
would reject the ledger. The archive keeps :func:`masked_copy`, never the original.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import polars as pl

from ingest import pii
from ingest.sie.schema import OBJECTS_AT, ROW_KINDS
from ingest.sie.tokens import TOKEN

# A line that may hold a number: the shape of one, not inside a longer run of digits (polars).
CANDIDATE_LINE = rf"(?:^|[^0-9]){pii.SHAPE}(?:[^0-9]|$)"
# Where the specification puts a number: the field's position (an object list {…} counts as
# one field), and where the object list is (the positions after it move up one without it).
NUMBERS_AT: dict[str, tuple[int, ...]] = {
    **dict.fromkeys(ROW_KINDS, (2, 3, 5)),  # amount, date, quantity
    "#VER": (2, 4),  # date, registration date
    **dict.fromkeys(("#IB", "#UB", "#RES"), (0, 2, 3)),  # year, amount, quantity
    **dict.fromkeys(("#OIB", "#OUB"), (0, 3, 4)),
    **dict.fromkeys(("#PSALDO", "#PBUDGET"), (0, 1, 4, 5)),  # year, period, amount, quantity
    "#RAR": (0, 1, 2),
    "#GEN": (0,),
    "#OMFATTN": (0,),
    "#KSUMMA": (0,),
}
LIST_AT = {**dict.fromkeys(ROW_KINDS, 1), **OBJECTS_AT}
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]*)?")


def mask_lines(column: pl.Series) -> tuple[pl.Series, dict[int, tuple[str, int]]]:
    """``column`` (a file's lines) with the numbers masked; per line number (1-based) masked,
    its original text and how many. A vectorised pass finds the few lines that may hold one."""
    masked: dict[int, tuple[str, int]] = {}
    candidates = column.str.contains(CANDIDATE_LINE).arg_true()
    for index, line in zip(candidates.to_list(), column.gather(candidates).to_list(), strict=True):
        text, count = mask_line(line)
        if count:
            masked[index + 1] = (line, count)
    if masked:
        column = column.scatter(
            [line - 1 for line in masked], [mask_line(text)[0] for text, _ in masked.values()]
        )
    return column, masked


def mask_line(line: str) -> tuple[str, int]:
    """``line`` with each personal identity number masked, and how many, leaving the plain
    numbers in the fields of ``NUMBERS_AT`` as they are."""
    kept = _number_fields(line)
    if not kept:
        return pii.mask_personnummer(line)
    parts: list[str] = []
    count = 0
    start = 0
    for begin, end in kept:
        text, found = pii.mask_personnummer(line[start:begin])
        parts += [text, line[begin:end]]
        count += found
        start = end
    text, found = pii.mask_personnummer(line[start:])
    return "".join([*parts, text]), count + found


def _number_fields(line: str) -> list[tuple[int, int]]:
    """The spans of the fields of a record where the specification puts a number and that
    hold a plain number."""
    label = line.split(None, 1)[0].upper() if line.strip() else ""
    numbers = NUMBERS_AT.get(label)
    if numbers is None:
        return []
    tokens = list(TOKEN.finditer(line, line.index(label[0]) + len(label)))
    list_at = LIST_AT.get(label)
    if list_at is not None and not any(token.group(3) == "{" for token in tokens):
        numbers = tuple(n - 1 if n > list_at else n for n in numbers)  # SIE 1-3: no {…}
    spans: list[tuple[int, int]] = []
    position = 0
    in_list = False
    for token in tokens:
        quoted, _, brace, bare = token.groups()
        if brace:
            in_list = brace == "{"
            position += brace == "}"
        elif not in_list:
            value = bare if bare is not None else quoted
            if position in numbers and _NUMBER.fullmatch(value):
                spans.append(token.span())
            position += 1
    return spans


def masked_copy(raw: bytes, encoding: str, end: str, masked: Iterable[int]) -> bytes:
    """The file's bytes with the numbers of the ``masked`` lines masked in its own encoding;
    every other byte as it was."""
    bom = b"\xef\xbb\xbf" if raw.startswith(b"\xef\xbb\xbf") else b""
    lines = raw[len(bom) :].split(end.encode())
    for number in masked:
        lines[number - 1] = mask_line(lines[number - 1].decode(encoding))[0].encode(encoding)
    return bom + end.encode().join(lines)
