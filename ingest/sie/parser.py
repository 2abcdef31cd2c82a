"""The pass over a file's lines: the records, their syntax, the ``{ … }`` blocks of vouchers
and unknown records, and the notes. The voucher rows are read in bulk (:mod:`.rows`), the
tables built and the ledger rules checked afterwards (:mod:`.tables`, :mod:`.ledger`)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ingest.sie.checksum import ChecksumMixin
from ingest.sie.decoding import split_lines
from ingest.sie.masking import mask_lines
from ingest.sie.rows import RowsMixin
from ingest.sie.schema import (
    ACCOUNT_TYPES,
    EXPECTED_DATE,
    KNOWN_LABELS,
    MIN_FIELDS,
    OBJECTS_AT,
    ROW_KINDS,
    SYNTAX,
    at,
)
from ingest.sie.state import OUTSIDE, SKIPPED
from ingest.sie.tables import TablesMixin, as_int, is_date
from ingest.sie.tokens import CONTROL, Field, split_fields

_KSUMMA = re.compile("#KSUMMA", re.IGNORECASE)


class Parser(RowsMixin, ChecksumMixin, TablesMixin):
    """Reads one decoded file: :meth:`parse`, then :meth:`build`."""

    # -- the pass over the lines -------------------------------------------------------------
    def parse(self, text: str) -> None:  # noqa: C901 - one loop over the records on purpose
        """Read the records, their personal identity numbers masked first (:mod:`.masking`).
        The voucher rows, nearly all of a ledger's lines, are split into
        their fields in bulk (:meth:`_bulk_rows`, one vectorised pass); the loop below walks the
        other lines (header, #VER, braces, balances) and the few rows the bulk pattern does not
        read whole. The rows then get their voucher from the state of the loop at their line
        (:meth:`_place_rows`)."""
        error = self.error
        column, self.line_end = split_lines(text)
        column, self.masked = mask_lines(column)
        if CONTROL.search(text) is not None:
            self._control_characters(column.to_list())
        checksum = _KSUMMA.search(text) is not None  # else no row's checksum text is needed
        bulk = self._bulk_rows(column, checksum)
        if checksum:
            self.bulk_crc = self._unmasked(bulk.select("source_line", "crc"))
        is_bulk = np.zeros(column.len() + 1, dtype=bool)
        is_bulk[bulk["source_line"].to_numpy()] = True
        numbers = np.flatnonzero(~is_bulk[1:]) + 1  # the lines the loop reads
        # only the lines the loop reads become Python strings (a few percent of a ledger)
        lines = dict(zip(numbers.tolist(), column.gather(numbers - 1).to_list(), strict=True))
        total = column.len()
        del column
        state: list[int] = []  # per line read: the state the bulk rows just before it are in

        voucher = -1  # index of the open voucher, -1 when none
        in_block = False  # inside the { … } of the voucher
        expect_block = 0  # line of a #VER waiting for its {
        skip_block = 0  # line of an unknown record whose { … } block is being skipped
        after_unknown = False
        ksumma_on = False
        crc = self.crc_parts
        add_row = self.rows.append
        row_kinds = ROW_KINDS
        previous = 0

        def no_block() -> None:
            """A record after a #VER that did not open its { … } block."""
            nonlocal expect_block, voucher
            error(
                expect_block,
                "#VER is not followed by a { … } block",
                "{ on the line after #VER",
            )
            expect_block, voucher = 0, -1

        def rows_seen() -> None:
            """What bulk rows between two lines read do to the state: outside a voucher block
            they are records like any other (and reported in :meth:`_place_rows`)."""
            nonlocal after_unknown
            if skip_block or not in_block:
                after_unknown = False
                if not skip_block and expect_block:
                    no_block()

        for number, line in lines.items():
            state.append(SKIPPED if skip_block else voucher if in_block else OUTSIDE)
            if number - previous > 1:
                rows_seen()
            previous = number
            s = line.strip()
            if not s:
                continue
            if s[0] == "#":
                parts = s.split(None, 1)
                label = written = parts[0]
                if not label.isupper():
                    label = label.upper()  # labels are upper case; read others alike
                rest = parts[1] if len(parts) > 1 else ""
                kind = row_kinds.get(label)
                fields, problem, lists = split_fields(rest) if rest else ([], None, 0)
                if ksumma_on and label != "#KSUMMA":
                    crc.append((number, self._crc_of(number, written, fields)))
                if kind is not None and in_block and not skip_block:
                    # a voucher row the bulk pattern did not read: the general tokenizer
                    if problem is not None:
                        error(number, f"{label}: {problem}", SYNTAX[label])
                        continue
                    if len(fields) > 1 and type(fields[1]) is not tuple:
                        fields.insert(1, ())  # no object list (SIE 1-3 style): read as {}
                        self.missing_objects += 1
                        lists += 1
                    if len(fields) < 3 or lists != 1:
                        error(
                            number,
                            f"{label} has too few fields or an object list out of place",
                            SYNTAX[label],
                        )
                        continue
                    account, objects, amount = fields[0], fields[1], fields[2]
                    index = self.object_lists.get(objects)  # type: ignore[arg-type]
                    if index is None:
                        index = self._object_list(objects, number, label)  # type: ignore[arg-type]
                    if index is None:
                        continue  # a malformed object list, reported
                    if not account or not amount:
                        error(number, f"{label}: account or amount empty", SYNTAX[label])
                        continue
                    extra = [v or None for v in fields[3:7]] + [None] * (7 - len(fields))
                    add_row((voucher, kind, account, index, amount, *extra[:4], number))
                    continue

                # any other record
                after_unknown = False
                if skip_block:
                    continue
                if expect_block:
                    no_block()
                if kind is not None:  # a row outside a voucher block
                    error(number, f"{label} outside a #VER {{ … }} block")
                    continue
                if in_block and label in KNOWN_LABELS:
                    # a record that cannot be part of a voucher: the block was never closed
                    error(
                        self.vouchers[voucher][5],
                        "the #VER block is not closed by }",
                        "} after the voucher's last #TRANS row",
                    )
                    self.unclosed.append(self.vouchers[voucher][5])
                    in_block, voucher = False, -1
                if problem is not None:
                    error(number, f"{label}: {problem}", SYNTAX.get(label))
                    if label != "#VER":  # a voucher still opens, so its rows are read
                        continue
                if label == "#VER":
                    voucher = self._voucher(fields, lists, number)
                    expect_block = number
                elif label == "#KSUMMA":
                    was_on, ksumma_on = ksumma_on, self._ksumma(fields, number)
                    if ksumma_on and not was_on:
                        self.crc_windows.append([number, None])
                    elif was_on and not ksumma_on:
                        self.crc_windows[-1][1] = number
                elif label in KNOWN_LABELS:
                    self._record(label, fields, number)
                else:
                    self.unknown.setdefault(label, []).append(number)
                    after_unknown = True
            elif s == "{":
                if expect_block:
                    in_block, expect_block = True, 0
                elif after_unknown:
                    skip_block = number
                else:
                    error(
                        number,
                        "{ out of place: a { … } block must follow a #VER record",
                        "#VER …, then { on its own line, the #TRANS rows, and }",
                    )
                after_unknown = False
            elif s == "}":
                if skip_block:
                    skip_block = 0
                elif in_block:
                    in_block, voucher = False, -1
                else:
                    error(number, "} without an opening {", "{ and } around the rows")
                after_unknown = False
            else:
                error(
                    number,
                    "the line is neither a record (#LABEL fields) nor { or }",
                    "#LABEL field field …",
                )

        state.append(SKIPPED if skip_block else voucher if in_block else OUTSIDE)
        if total > previous:
            rows_seen()
        if in_block:
            line = self.vouchers[voucher][5]
            # first in the report: what else is wrong (balances, sums) may follow from it
            self.errors.add(
                at(line),
                "the file ends inside this voucher: its #VER block is never closed by } "
                "(was the file cut short?)",
                "the whole file, each #VER block closed by }",
                line=0,
            )
            self.unclosed.append(line)
        elif expect_block:
            error(expect_block, "#VER is not followed by a { … } block", "{ after #VER")
        if self.ksumma.get("open") and "declared" not in self.ksumma:
            error(
                self.ksumma["open"],
                "#KSUMMA opened here is never closed: the file was cut short",
                "a closing #KSUMMA <checksum> as the last record",
            )
        self._place_rows(bulk, numbers, state)
        self._notes()

    def _voucher(self, fields: list[Field], lists: int, line: int) -> int:
        """Register a voucher (also a malformed one, so that its block does not cascade into
        more errors); its index."""
        if lists:
            self.error(line, "#VER: an object list out of place", SYNTAX["#VER"])
        values = [v if type(v) is str else "" for v in fields[:5]]
        values += [""] * (5 - len(values))
        if len(fields) < 3:
            self.error(line, "#VER has too few fields", SYNTAX["#VER"])
        elif not values[2]:
            self.error(line, "#VER: the voucher date is missing (field 3)", EXPECTED_DATE)
        series, number, date, text, regdate = values
        self.vouchers.append((series, number, date or None, text or None, regdate or None, line))
        return len(self.vouchers) - 1

    def _record(self, label: str, fields: list[Field], line: int) -> None:  # noqa: C901
        """Every known record other than #VER, the rows, and #KSUMMA."""
        error = self.error
        list_at = OBJECTS_AT.get(label)  # the position of the object list
        if list_at is not None and len(fields) > list_at and type(fields[list_at]) is not tuple:
            fields.insert(list_at, ())  # SIE 1-3 style without an object list: read as {}
            self.missing_objects += 1
        if len(fields) < MIN_FIELDS.get(label, 0):
            error(line, f"{label} has too few fields", SYNTAX.get(label))
            return
        if list_at is not None:
            objects = fields[list_at]
            values = fields[:list_at] + fields[list_at + 1 :]
        else:
            objects = ()
            values = fields
        if any(type(value) is tuple for value in values):
            error(line, f"{label}: an object list out of place", SYNTAX.get(label))
            return
        v: list[str] = [str(value) for value in values]
        head = self.head
        if label in ("#IB", "#UB", "#RES", "#OIB", "#OUB", "#PSALDO", "#PBUDGET"):
            period = v.pop(1) if label in ("#PSALDO", "#PBUDGET") else None
            index = self.object_lists.get(objects)  # type: ignore[arg-type]
            if index is None:
                index = self._object_list(objects, line, label)  # type: ignore[arg-type]
                if index is None:
                    return
            if label in ("#OIB", "#OUB") and len(self.object_pairs[index]) > 1:
                self.notes.append(f"line {line}: {label} with more than one object")
            if not v[1]:
                error(line, f"{label}: the account is empty", SYNTAX[label])
                return
            quantity = v[3] or None if len(v) > 3 else None
            self.balances.append((label[1:], v[0], period, v[1], index, v[2], quantity, line))
        elif label == "#KONTO":
            if not v[0]:
                error(line, "#KONTO: the account is empty", SYNTAX["#KONTO"])
                return
            if v[0] in self.declared:
                self.notes.append(f"line {line}: account {v[0]} is declared again (#KONTO)")
            self.declared.add(v[0])
            self._account(v[0])[0] = v[1] if len(v) > 1 else None  # more fields: ignored
        elif label == "#KTYP":
            if v[1].upper() not in ACCOUNT_TYPES:
                error(
                    line,
                    "#KTYP: the account type is not T, S, K or I",
                    "T, S, K or I",
                )
                return
            self._account(v[0])[1] = v[1].upper()
        elif label == "#SRU":
            self._account(v[0])[2] = v[1]
        elif label in ("#DIM", "#UNDERDIM"):
            dimension = as_int(v[0])
            parent = as_int(v[2]) if label == "#UNDERDIM" else None
            if dimension is None or (label == "#UNDERDIM" and parent is None):
                error(line, f"{label}: a dimension is not a number", SYNTAX[label])
                return
            self.dimensions[dimension] = (v[1] if len(v) > 1 else None, parent)
        elif label == "#OBJEKT":
            dimension = as_int(v[0])
            if dimension is None:
                error(line, "#OBJEKT: the dimension is not a number", SYNTAX[label])
                return
            self.objects[(dimension, v[1])] = v[2] if len(v) > 2 else None
        elif label == "#RAR":
            self.years.append((v[0], v[1], v[2], line))
        elif label == "#PROGRAM":
            head["program"] = v[0] if v else None
            head["program_version"] = v[1] if len(v) > 1 else None
        elif label == "#FORMAT":
            head["format"] = v[0] if v else None
        elif label == "#GEN":
            head["gen"] = (v[0] if v else None, line)
        elif label == "#SIETYP":
            head["sietyp"] = v[0] if v else None
        elif label == "#FNAMN":
            if len(v) > 1:
                self.notes.append(
                    f"line {line}: #FNAMN has blanks but no quotes: its {len(v)} fields are read "
                    "as one name"
                )
            head["company_name"] = " ".join(v) or None
        elif label == "#ORGNR":
            head["org_nr"] = (v[0] if v else None, line)
        elif label == "#VALUTA":
            head["currency"] = v[0].upper() if v else None
        elif label == "#OMFATTN":
            if v and not is_date(v[0]):
                error(line, "#OMFATTN: malformed date (field 1)", EXPECTED_DATE)

    def _account(self, account: str) -> list[Any]:
        found = self.accounts.get(account)
        if found is None:
            found = self.accounts[account] = [None, None, None]
        return found

    def _control_characters(self, lines: list[str]) -> None:
        """A note on the lines holding control characters (rare: the caller looked first)."""
        count = 0
        first: list[int] = []
        for number, line in enumerate(lines, 1):
            if CONTROL.search(line.rstrip("\r")):
                count += 1
                if len(first) < 5:
                    first.append(number)
        if count:
            shown = ", ".join(str(n) for n in first)
            self.notes.append(
                f"control characters (not allowed by the specification) on {count} line(s): "
                f"{shown}; read as they are"
            )

    def _notes(self) -> None:
        for label, lines in sorted(self.unknown.items()):
            shown = ", ".join(str(n) for n in lines[:3])
            more = f" and {len(lines) - 3} more" if len(lines) > 3 else ""
            self.notes.append(
                f"unknown record {label} ignored ({len(lines)} line(s): {shown}{more})"
            )
        if self.missing_objects:
            self.notes.append(
                f"{self.missing_objects} record(s) without an object list {{}} (as in SIE 1-3): "
                "read as having no objects"
            )
        if self.twins_missing:
            shown = ", ".join(str(n) for n in self.twins_missing[:5])
            self.notes.append(
                f"{len(self.twins_missing)} #RTRANS row(s) not followed by their #TRANS twin "
                f"(lines {shown}): no row skipped after them"
            )
