"""``#KSUMMA``: the CRC-32 of the records between an opening and a closing ``#KSUMMA``, over
what the file holds (the lines where numbers were masked as they were written)."""

from __future__ import annotations

import re
import zlib

import polars as pl

from ingest.sie.state import LedgerState
from ingest.sie.tokens import Field, crc_text, split_fields


class ChecksumMixin(LedgerState):
    """The checksum's windows, the texts it counts, and the rule."""

    def _ksumma(self, fields: list[Field], line: int) -> bool:
        """An opening (no field) or closing ``#KSUMMA``; whether the checksum now runs."""
        ks = self.ksumma
        if not fields:  # the opening #KSUMMA
            if "open" in ks:
                self.error(line, "a second opening #KSUMMA", "one pair of #KSUMMA")
            ks["open"] = line
            return True
        if "open" not in ks:
            self.error(
                line,
                "closing #KSUMMA without an opening #KSUMMA",
                "#KSUMMA alone near the start of the file, #KSUMMA <checksum> at its end",
            )
            ks["open"] = 0
        value = fields[0]
        if type(value) is not str or not re.fullmatch(r"-?[0-9]{1,10}", value):
            self.error(line, "#KSUMMA: the checksum is not a number", "a CRC-32")
            ks["declared"] = None
            return False
        data = self._crc_data(line).encode(self.encoding, "replace")
        ks["declared"] = int(value) & 0xFFFFFFFF
        ks["computed"] = zlib.crc32(data)
        ks["line"] = line
        if ks["open"] and ks["declared"] != ks["computed"]:
            self.error(
                line,
                f"#KSUMMA does not match the file's content: the file says {ks['declared']}, "
                f"the records give {ks['computed']}",
                "the CRC-32 of the records between the two #KSUMMA (the file was changed?)",
            )
        return False

    def _crc_data(self, until: int) -> str:
        """The records #KSUMMA counts, in file order, up to line ``until``: those the loop
        read and the bulk rows within the checksum's windows."""
        line = pl.col("source_line")
        windows = [(line > start) & (line < (end or until)) for start, end in self.crc_windows]
        bulk = self.bulk_crc.filter(pl.any_horizontal(windows)) if windows else self.bulk_crc[:0]
        loop = pl.DataFrame(self.crc_parts, schema=bulk.schema, orient="row")
        return (
            pl.concat([loop, bulk]).sort("source_line", maintain_order=True)["crc"].str.join("")[0]
        )

    def _crc_of(self, line: int, label: str, fields: list[Field]) -> str:
        """What a record the loop read adds to the checksum: as written in the file."""
        if line in self.masked:
            return _crc_of_text(self.masked[line][0])
        return crc_text(label, fields)

    def _unmasked(self, bulk_crc: pl.DataFrame) -> pl.DataFrame:
        """The bulk rows' checksum texts, those of masked lines as they were written."""
        if not self.masked:
            return bulk_crc
        written = {line: _crc_of_text(text) for line, (text, _) in self.masked.items()}
        line = pl.col("source_line")
        return bulk_crc.with_columns(
            pl.when(line.is_in(list(written)))
            .then(line.replace_strict(written, default=None, return_dtype=pl.String))
            .otherwise(pl.col("crc"))
            .alias("crc")
        )


def _crc_of_text(text: str) -> str:
    label, *rest = text.strip().split(None, 1)
    return crc_text(label, split_fields(rest[0])[0] if rest else [])
