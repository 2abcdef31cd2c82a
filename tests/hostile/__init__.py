"""Hostile input, built by the tests themselves: files that take a reader down, and a test-only
reader that fails in each way a reader can. Module level, so that worker processes (which read
every untrusted file, see ingest/isolation.py) can import it."""

import os
import re
import time
import zipfile
from pathlib import Path

from ingest.kolada import read as read_kolada

TEMPLATE = Path(__file__).resolve().parents[2] / "data" / "templates"
STRAY_CELL = '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
# A personnummer (the Tax Agency's test person) in an exception's message: no report may show it.
SECRET = "19121212-1212"


def stray_cell_xlsx(target: Path, source: Path = TEMPLATE / "provider_monthly_report.xlsx") -> Path:
    """``source`` with one more cell, at XFD1048576 (the last cell of a sheet), in every sheet:
    calamine then asks for a dense range of 549 GB, and the process aborts (SIGABRT)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(source) as origin, zipfile.ZipFile(target, "w") as copy:
        for item in origin.infolist():
            data = origin.read(item.filename)
            if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", item.filename):
                data = data.replace(b"</sheetData>", STRAY_CELL.encode() + b"</sheetData>")
            copy.writestr(item, data)
    return target


def deeply_nested_json(target: Path, depth: int = 200_000) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("[" * depth + "]" * depth, "utf-8")
    return target


def read_marked(path: Path):  # noqa: ANN201 - a ReadResult
    """Kolada's reader, unless the file starts with a marker saying how to fail."""
    head = path.read_bytes()[:16]
    if head.startswith(b"ABORT"):
        os.abort()
    if head.startswith(b"HANG"):
        time.sleep(3600)
    if head.startswith(b"EAT"):  # memory in 64 MB steps until the limit
        held = []
        while True:
            held.append(bytearray(64 << 20))
    if head.startswith(b"KEEP"):  # a read that leaves its worker holding 600 MB
        _kept.append(bytearray(600 << 20))
        return read_kolada(path)
    if head.startswith(b"RECURSE"):
        return _deeper(0)
    if head.startswith(b"RAISE"):
        raise ValueError(f"cell holds {SECRET}")
    return read_kolada(path)


_kept: list[bytearray] = []


def _deeper(level: int) -> int:
    return _deeper(level + 1) + 1


def read_unpicklable(path: Path):  # noqa: ANN201 - what no reader may return
    """A reader whose result cannot be passed back from its worker: the code's fault."""
    return lambda: path
