"""Every text of an ``.xlsx`` workbook, read from its zip parts, checked for personal identity
numbers: the cells of every sheet (values and formulas), the sheet names, shared strings no
cell uses, cell comments and their authors, page headers and footers, data validations,
defined names, document properties, drawings, the names of the parts and any other part (one
that is not well-formed XML is scanned as text). Also which cells hold a formula and whether
its value was saved.

Findings are cells (sheet, row, column) or places such as ``sheet Data, comment on cell B3``
or ``part docProps/core.xml``, never the text found.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError, iterparse

from ingest.pii import contains_personnummer
from ingest.validation import printable

# A part that is not well-formed XML, or declares an encoding expat does not know.
XML_ERRORS = (ParseError, LookupError, ValueError)
CELL_REF = re.compile(r"^\$?([A-Z]{1,3})\$?([0-9]{1,7})$")
# A number cell's text, e.g. Excel's float text 1.212121212E9: also scanned as a whole number.
FLOAT_TEXT = re.compile(r"^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$")
# How places name the sheet elements other than cells (the others by their tag).
SHEET_PARTS = {
    "headerFooter": "page header or footer",
    "dataValidations": "data validation",
    "hyperlinks": "hyperlink",
    "conditionalFormatting": "conditional formatting",
}


@dataclass
class WorkbookScan:
    """What :func:`scan_workbook` found; cells are 0-based (row, column) per sheet name."""

    sheets: list[str] = field(default_factory=list)
    cells: dict[str, set[tuple[int, int]]] = field(default_factory=dict)  # holding a number
    places: list[str] = field(default_factory=list)  # other places holding a number
    formulas: dict[str, dict[tuple[int, int], bool]] = field(default_factory=dict)  # → saved?
    # The workbook asks to be recalculated when opened (``fullCalcOnLoad``): a program that
    # does not compute formulas wrote it, so no formula value in it was saved.
    recalculate: bool = False

    def sheet_label(self, name: str) -> str:
        """``sheet Data``, or ``sheet 2`` when the name itself holds a number."""
        if contains_personnummer(name) or name not in self.sheets:
            position = self.sheets.index(name) + 1 if name in self.sheets else "?"
            return f"sheet {position}"
        return f"sheet {printable(name)}"

    def unsaved_formulas(self, sheet: str) -> set[tuple[int, int]]:
        """The cells of ``sheet`` holding a formula whose value was not saved."""
        cells = self.formulas.get(sheet, {})
        return {cell for cell, saved in cells.items() if self.recalculate or not saved}


def scan_workbook(path: Path) -> WorkbookScan | None:
    """Scan every part of the workbook at ``path``; None when it is not a zip archive whose
    parts can all be read (then it cannot count as scanned)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return _Scanner(archive).scan()
    # RuntimeError: an encrypted part; NotImplementedError: an unknown compression method.
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError, RuntimeError):
        return None


def cell_index(ref: str) -> tuple[int, int] | None:
    """``B3`` → (2, 1); None for anything else."""
    match = CELL_REF.match(ref)
    if match is None:
        return None
    col = 0
    for letter in match.group(1):
        col = col * 26 + ord(letter) - ord("A") + 1
    return int(match.group(2)) - 1, col - 1


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _attribute(element: Element, name: str) -> str | None:
    """An attribute by its local name, whatever its namespace."""
    return next((v for k, v in element.attrib.items() if _local(k) == name), None)


def _whole(text: str) -> str:
    """A number's float text as a whole number (``1.212121212E9`` → ``1212121212``)."""
    value = float(text)
    return str(int(value)) if value.is_integer() and abs(value) < 1e18 else text


class _Part:
    """Callbacks of :meth:`_Scanner.walk` for one XML part: by default, a text holding a
    number is reported at ``label`` (or at the comment's cell of ``sheet``, or as a comment
    author)."""

    def __init__(self, scanner: _Scanner, label: str, sheet: str | None = None) -> None:
        self.scanner, self.label, self.sheet = scanner, label, sheet or label

    def start(self, element: Element, stack: list[Element]) -> None:
        pass

    def end(self, element: Element, stack: list[Element]) -> None:
        pass

    def attribute(self, value: str, element: Element, stack: list[Element]) -> None:
        self.text(value, element, stack)

    def text(self, value: str, element: Element, stack: list[Element]) -> None:
        if not contains_personnummer(value):
            return
        for e in [element, *reversed(stack)]:
            tag = _local(e.tag)
            ref = _attribute(e, "ref")
            if tag.lower().endswith("comment") and ref and cell_index(ref):
                self.scanner.found(f"{self.sheet}, comment on cell {ref}")
                return
            if tag in ("author", "authors", "person", "personList"):
                self.scanner.found(f"{self.sheet}, comment author")
                return
        self.scanner.found(self.label)


class _Workbook(_Part):
    def __init__(self, scanner: _Scanner, relations: dict[str, tuple[str, str]]) -> None:
        super().__init__(scanner, "the workbook")
        self.relations = relations

    def end(self, element: Element, stack: list[Element]) -> None:
        result = self.scanner.result
        tag = _local(element.tag)
        if tag == "sheet":
            name = element.get("name") or ""
            result.sheets.append(name)
            target, kind = self.relations.get(_attribute(element, "id") or "", ("", ""))
            if kind == "worksheet":
                self.scanner.sheet_of[target] = name
        elif tag == "calcPr":
            result.recalculate = element.get("fullCalcOnLoad") in ("1", "true")

    def text(self, value: str, element: Element, stack: list[Element]) -> None:
        if not contains_personnummer(value):
            return
        tag = _local(element.tag)
        if tag == "sheet":  # ends after its attributes are read
            self.scanner.found(f"the name of sheet {len(self.scanner.result.sheets) + 1}")
        else:
            self.scanner.found(
                "the workbook's defined names" if tag == "definedName" else "the workbook"
            )


class _SharedStrings(_Part):
    """The shared strings: one entry per ``si`` (its runs joined), in order."""

    def __init__(self, scanner: _Scanner) -> None:
        super().__init__(scanner, "the workbook's shared strings")
        self.entry: list[str] = []

    def start(self, element: Element, stack: list[Element]) -> None:
        if _local(element.tag) == "si":
            self.entry = []

    def attribute(self, value: str, element: Element, stack: list[Element]) -> None:
        super().text(value, element, stack)

    def text(self, value: str, element: Element, stack: list[Element]) -> None:
        if _local(element.tag) == "si":
            self.entry.append(value)
        else:  # phonetic runs and anything else
            super().text(value, element, stack)

    def end(self, element: Element, stack: list[Element]) -> None:
        if _local(element.tag) == "si":
            entry = "".join(self.entry)
            if contains_personnummer(entry):
                self.scanner.shared_hits.append(len(self.scanner.shared))
            self.scanner.shared.append(entry)


class _Sheet(_Part):
    """A worksheet: cell values (shared strings resolved) and formulas are reported by cell."""

    def __init__(self, scanner: _Scanner, sheet: str) -> None:
        super().__init__(scanner, scanner.result.sheet_label(sheet))
        self.hits = scanner.result.cells.setdefault(sheet, set())
        self.formulas = scanner.result.formulas.setdefault(sheet, {})
        self.row, self.col = -1, -1
        self.type: str | None = None
        self.value: str | None = None
        self.formula = False

    def start(self, element: Element, stack: list[Element]) -> None:
        tag = _local(element.tag)
        if tag == "row":
            number = element.get("r") or ""
            self.row = int(number) - 1 if number.isdigit() else self.row + 1
            self.col = -1
        elif tag == "c":
            self.row, self.col = cell_index(element.get("r") or "") or (self.row, self.col + 1)
            self.type, self.value, self.formula = element.get("t"), None, False

    def attribute(self, value: str, element: Element, stack: list[Element]) -> None:
        if _local(element.tag) != "c":  # a cell's are its reference, type and style
            self.text(value, element, stack)

    def text(self, value: str, element: Element, stack: list[Element]) -> None:
        tag = _local(element.tag)
        parent = _local(stack[-1].tag) if stack else ""
        if parent == "c" and tag in ("v", "is"):
            self.value = value
        elif parent == "c" and tag == "f":
            if contains_personnummer(value):
                self.hits.add((self.row, self.col))
        elif contains_personnummer(value):
            kind = next(
                (SHEET_PARTS[_local(e.tag)] for e in stack if _local(e.tag) in SHEET_PARTS),
                _local(element.tag),
            )
            self.scanner.found(f"{self.label}, {kind}")

    def end(self, element: Element, stack: list[Element]) -> None:
        tag = _local(element.tag)
        if tag == "f":
            self.formula = True
        elif tag == "c":
            self.cell()

    def cell(self) -> None:
        position, value = (self.row, self.col), self.value
        if self.formula:
            self.formulas[position] = bool(value)
        if value is None:
            return
        texts = [value]
        if self.type == "s":
            index = int(value) if value.strip().isdigit() else -1
            texts = [self.scanner.shared[index]] if 0 <= index < len(self.scanner.shared) else []
            self.scanner.used.add(index)
        elif self.type in (None, "n") and FLOAT_TEXT.match(value.strip()):
            texts.append(_whole(value.strip()))
        if any(contains_personnummer(text) for text in texts):
            self.hits.add(position)


class _Scanner:
    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        self.names = [info.filename for info in archive.infolist()]
        self.result = WorkbookScan()
        self.labels: dict[str, str] = {}  # part of a sheet → ``sheet Data, drawing``
        self.sheets_of: dict[str, str] = {}  # part of a sheet (comments) → ``sheet Data``
        self.sheet_of: dict[str, str] = {}  # worksheet part → sheet name
        self.shared: list[str] = []
        self.used: set[int] = set()  # shared strings some cell shows
        self.shared_hits: list[int] = []  # shared strings holding a number

    def found(self, place: str) -> None:
        if place not in self.result.places:
            self.result.places.append(place)

    def label(self, name: str) -> str:
        if name in self.labels:
            return self.labels[name]
        if contains_personnummer(name):
            return f"part {self.names.index(name) + 1} of the archive"
        return f"part {printable(name)}"

    def scan(self) -> WorkbookScan:
        if any(contains_personnummer(name) for name in self.names):
            self.found("the names of the archive's parts")
        if contains_personnummer(self.archive.comment.decode("utf-8", "replace")):
            self.found("the archive's comment")
        done: set[str] = set()
        package = self.relations("")
        workbook = next((t for t, k in package.values() if k == "officeDocument"), None)
        workbook = workbook or "xl/workbook.xml"
        relations = self.relations(workbook)
        shared = next((t for t, k in relations.values() if k == "sharedStrings"), None)
        shared = shared or "xl/sharedStrings.xml"
        for part, handler in (
            (workbook, _Workbook(self, relations)),
            (shared, _SharedStrings(self)),
        ):
            if part in self.names:
                self.walk(part, handler)
                done.add(part)
        for part, sheet in self.sheet_of.items():
            for target, kind in self.relations(part).values():
                self.sheets_of.setdefault(target, self.result.sheet_label(sheet))
                self.labels.setdefault(target, f"{self.result.sheet_label(sheet)}, {kind}")
            if part in self.names and part not in done:
                self.walk(part, _Sheet(self, sheet))
                done.add(part)
        for index in self.shared_hits:
            if index not in self.used:
                self.found(f"the workbook's shared strings, entry {index + 1}")
        for name in self.names:
            if name in done or name.endswith("/"):
                continue
            if name.endswith((".xml", ".rels", ".vml")):
                self.walk(name, _Part(self, self.label(name), self.sheets_of.get(name)))
            else:
                self.scan_bytes(name)
        return self.result

    def relations(self, part: str) -> dict[str, tuple[str, str]]:
        """Id → (target part, last segment of the type, e.g. ``worksheet``) of ``part`` (the
        package's own relations for ``""``)."""
        folder, name = posixpath.split(part)
        rels = posixpath.join(folder, "_rels", name + ".rels")
        found: dict[str, tuple[str, str]] = {}
        if rels not in self.names:
            return found
        try:
            with self.archive.open(rels) as stream:
                for _, element in iterparse(stream):
                    if _local(element.tag) != "Relationship":
                        continue
                    target = element.get("Target") or ""
                    if element.get("TargetMode") != "External":
                        base = "" if target.startswith("/") else folder
                        target = posixpath.normpath(posixpath.join(base, target)).lstrip("/")
                    kind = (element.get("Type") or "").rpartition("/")[2]
                    found[element.get("Id") or ""] = (target, kind)
        except XML_ERRORS:
            pass  # the part is scanned as text with the others
        return found

    def scan_bytes(self, name: str) -> None:
        """A part that is not (well-formed) XML: its bytes as text, and again without NUL
        bytes (UTF-16 text)."""
        data = self.archive.read(name)
        texts = [data.decode("utf-8", "replace")]
        if b"\x00" in data:
            texts.append(data.replace(b"\x00", b"").decode("utf-8", "replace"))
        if any(contains_personnummer(text) for text in texts):
            self.found(self.label(name))

    def walk(self, name: str, part: _Part) -> None:
        """Every text, tail and attribute value of the XML part ``name`` to ``part.text``, the
        runs of one paragraph (``<r><t>`` in a shared string, comment or drawing) joined;
        ``part.start``/``part.end`` get each element and the elements it is in."""
        stack: list[Element] = []
        runs: dict[int, list[str]] = {}  # id of a paragraph's element → its runs' texts
        try:
            with self.archive.open(name) as stream:
                for event, element in iterparse(stream, events=("start", "end")):
                    if event == "start":
                        part.start(element, stack)
                        stack.append(element)
                        continue
                    stack.pop()
                    for value in element.attrib.values():
                        part.attribute(value, element, stack)
                    if _local(element.tag) == "t":
                        holder = next((e for e in reversed(stack) if _local(e.tag) != "r"), element)
                        runs.setdefault(id(holder), []).append(element.text or "")
                    elif element.text and element.text.strip():
                        part.text(element.text, element, stack)
                    if id(element) in runs:
                        part.text("".join(runs.pop(id(element))), element, stack)
                    part.end(element, stack)
                    if element.tail and element.tail.strip():
                        part.text(element.tail, stack[-1] if stack else element, stack[:-1])
                    element.clear()
        except XML_ERRORS:
            self.scan_bytes(name)
