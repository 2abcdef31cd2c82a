"""Decoding: which character set a file is in (``#FORMAT``, a BOM, or guessed from its
bytes), and its text split into lines."""

from __future__ import annotations

import re

import polars as pl

from ingest.sie.schema import at
from ingest.validation import ErrorCollector

_FORMAT_LINE = re.compile(rb'(?:\A|[\r\n])[ \t]*#FORMAT[ \t]+"?([^\s"]*)')
# Bytes of Swedish letters: in CP437 (ä å é É Ä Å ö Ö ü) and in Windows-1252 (ä å é É Ä Å ö Ö ü).
_CP437_LETTERS = [bytes([b]) for b in b"\x84\x86\x82\x90\x8e\x8f\x94\x99\x81"]
_CP1252_LETTERS = [bytes([b]) for b in b"\xe4\xe5\xe9\xc9\xc4\xc5\xf6\xd6\xfc"]


def decode(
    raw: bytes, errors: ErrorCollector, notes: list[str]
) -> tuple[str, str, str | None] | None:
    """(text, encoding used, #FORMAT as declared), or None after an error."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw:
        errors.add(
            "line 1",
            "the file is not 8-bit text: it holds NUL bytes (UTF-16 or a binary file?)",
            "SIE text in PC8 (CP437), one record a line",
            line=1,
        )
        return None
    bom = raw.startswith(b"\xef\xbb\xbf")
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    match = _FORMAT_LINE.search(raw)
    declared = match.group(1).decode("ascii", "replace").upper() if match else None
    line_end = b"\n" if b"\n" in raw else b"\r"
    format_line = raw.count(line_end, 0, match.end(1)) + 1 if match else 1
    utf8 = _utf8(raw)
    ascii_only = raw.isascii()
    if bom and utf8 is not None:
        encoding = "utf-8"
        notes.append("the file starts with a UTF-8 byte order mark: read as UTF-8")
    elif declared == "PC8":
        if utf8 is not None and not ascii_only:
            encoding = "utf-8"
            notes.append("#FORMAT says PC8 (CP437) but the file is valid UTF-8: read as UTF-8")
        else:
            encoding = "cp437"
    elif declared is None:
        if utf8 is not None:
            encoding = "utf-8"
        else:
            cp437 = sum(raw.count(letter) for letter in _CP437_LETTERS)
            cp1252 = sum(raw.count(letter) for letter in _CP1252_LETTERS)
            encoding = "cp437" if cp437 > cp1252 or not _decodes(raw, "cp1252") else "cp1252"
        if not ascii_only:
            notes.append(f"no #FORMAT record: read as {_ENCODING_NAMES[encoding]}")
    elif declared in ("UTF8", "UTF-8"):
        if utf8 is None:
            errors.add(
                at(format_line),
                f"#FORMAT says {declared} but the file is not valid UTF-8",
                "#FORMAT PC8 with CP437 text, or valid UTF-8",
                line=format_line,
            )
            return None
        encoding = "utf-8"
        notes.append(f"#FORMAT {declared} is not in the SIE 4 specification: read as UTF-8")
    elif declared in (
        "ANSI",
        "WINDOWS",
        "CP1252",
        "WINDOWS-1252",
        "ISO-8859-1",
        "LATIN1",
    ):
        encoding = "cp1252"
        if not _decodes(raw, encoding):
            errors.add(
                at(format_line),
                f"#FORMAT says {declared} but the file is not Windows-1252 text",
                "#FORMAT PC8 with CP437 text",
                line=format_line,
            )
            return None
        notes.append(f"#FORMAT {declared} is not in the SIE 4 specification: read as cp1252")
    else:
        errors.add(
            at(format_line),
            "#FORMAT names a character set this reader does not know",
            "#FORMAT PC8 (CP437; the only one in the SIE 4 specification)",
            line=format_line,
        )
        return None
    text = utf8 if encoding == "utf-8" else raw.decode(encoding)
    assert text is not None
    if "\ufffd" in text:
        notes.append(
            f"{text.count(chr(0xFFFD))} replacement characters (U+FFFD): letters were lost "
            "before the file was written"
        )
    return text, encoding, declared


_ENCODING_NAMES = {"cp437": "CP437 (PC8)", "cp1252": "Windows-1252", "utf-8": "UTF-8"}


def _utf8(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _decodes(raw: bytes, encoding: str) -> bool:
    try:
        raw.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def split_lines(text: str) -> tuple[pl.Series, str]:
    """The lines of a decoded file as a polars column (a DOS end-of-file mark and the last
    line end dropped; no Python string per line) and the line end they were split at: ``\n``,
    or ``\r`` in a file of lone carriage returns."""
    text = text.rstrip("\x1a\r\n")
    end = "\n" if "\n" in text else "\r"
    # via a list of Python strings, dropped at once: polars' own split (a list column, then
    # exploded) needs twice the memory at its peak, and keeps it
    return pl.Series("text", text.split(end), dtype=pl.String), end
