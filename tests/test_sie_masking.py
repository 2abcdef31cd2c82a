"""SIE ledgers are KSON's own books: a personal identity number in them is masked, not
rejected — in every place a file can hold text, in every form; the tables, notes, errors and
summary never hold it, and the archive's copy is the file with only the number replaced."""

import json
import zlib
from pathlib import Path

import duckdb
import polars as pl
import pytest
from pii_forms import FORMS

from ingest import pii, sie
from ingest.landing import FileStore, load_family, sha256_of
from ingest.pii import MASK
from ingest.registry import FAMILIES

# Skatteverket's test person (1912-12-12) and a samordningsnummer (1970-10-03 + 60), written
# in every form the detector knows.


def ledger(number: str) -> list[str]:
    """A valid ledger with ``number`` in every place that can hold text; one line a place."""
    return [
        "#FLAGGA 0",
        "#PROGRAM Test 1.0",
        f'#GEN 20240110 "{number}"',  # the sign of #GEN
        "#SIETYP 4",
        f'#PROSA "Kund {number}"',
        f'#FNAMN "Kund {number}"',
        f"#ORGNR {number}",
        f'#ADRESS "Kontakt {number}" "Gatan 1" "76130 Norrtälje" "0176-123"',
        "#RAR 0 20230101 20231231",
        f'#DIM 1 "Ansvar {number}"',
        f'#OBJEKT 1 "{number}" "Enhet {number}"',
        f'#KONTO 1930 "Bank {number}"',
        '#KONTO 4610 "Köp"',
        f'#{number} "okänd {number}"',  # an unknown record: its label and its field
        f'#VER A 1 20230131 "Ersättning {number}" 20230201 "{number}"',
        "{",
        f'#TRANS 4610 {{1 "{number}"}} 100.00 20230131 "Faktura {number}" 1 "{number}"',
        "#TRANS 1930 {} -100.00",
        "}",
        f'#VER "{number}" 2 20230228 "Februari"',
        "{",
        "#TRANS 4610 {} 5.00",
        "#TRANS 1930 {} -5.00",
        "}",
    ]


MASKED_LINES = [3, 5, 6, 7, 8, 10, 11, 12, 14, 15, 17, 20]
COUNTS = {3: 1, 5: 1, 6: 1, 7: 1, 8: 1, 10: 1, 11: 2, 12: 1, 14: 2, 15: 2, 17: 3, 20: 1}


def frames_text(result) -> str:
    return "\n".join(str(row) for frame in result.tables.values() for row in frame.iter_rows())


@pytest.mark.parametrize("number", FORMS)
def test_every_place_and_form_is_masked(tmp_path: Path, number: str):
    path = tmp_path / "kson_2023.se"
    original = "\r\n".join(ledger(number)) + "\r\n"
    path.write_bytes(original.encode("utf-8"))
    result = sie.read(path)
    assert result.ok, [str(e) for e in result.errors]
    assert result.scanned
    assert result.masked == [f"line {n}" for n in MASKED_LINES for _ in range(COUNTS[n])]

    files = result.tables[sie.FILES_TABLE].row(0, named=True)
    assert files["company_name"] == f"Kund {MASK}"
    assert files["org_nr"] is None
    names = dict(result.tables[sie.ACCOUNTS_TABLE].select("account", "name").iter_rows())
    assert names["1930"] == f"Bank {MASK}"
    assert result.tables[sie.DIMENSIONS_TABLE]["name"].to_list() == [f"Ansvar {MASK}"]
    assert result.tables[sie.OBJECTS_TABLE].rows() == [(1, MASK, f"Enhet {MASK}")]
    rows = result.tables[sie.TRANSACTIONS_TABLE]
    assert rows["voucher_text"][0] == f"Ersättning {MASK}"
    assert rows["transaction_text"][0] == f"Faktura {MASK}"
    assert rows["objects"][0].to_list() == [{"dimension": 1, "object": MASK}]
    assert rows["voucher_series"].to_list() == ["A", "A", MASK, MASK]
    assert rows["amount"].sum() == 0

    said = [frames_text(result), *result.notes, json.dumps(sie.summary(result))]
    assert not [text for text in said if number in text or pii.contains_personnummer(text)]
    assert f"unknown record #{MASK.upper()} ignored (1 line(s): 14)" in result.notes
    assert any("#ORGNR is a personal identity number" in note for note in result.notes)
    assert sie.summary(result)["masked"] == {"count": 17, "lines": MASKED_LINES}

    # the archive's copy: the same bytes, each number replaced by the mask
    assert result.masked_copy == original.replace(number, MASK).encode("utf-8")


def test_the_masked_copy_keeps_the_files_own_encoding(tmp_path: Path):
    """A PC8 (CP437) file with Swedish letters and CRLF: only the number's bytes change."""
    text = "\r\n".join(ledger("19121212-1212")) + "\r\n\x1a"
    original = text.encode("cp437")
    path = tmp_path / "pc8.se"
    path.write_bytes(original.replace(b"#SIETYP 4", b"#FORMAT PC8\r\n#SIETYP 4"))
    result = sie.read(path)
    assert result.ok and result.tables[sie.FILES_TABLE]["encoding"][0] == "cp437"
    expected = text.replace("19121212-1212", MASK).encode("cp437")
    assert result.masked_copy == expected.replace(b"#SIETYP 4", b"#FORMAT PC8\r\n#SIETYP 4")
    assert "Norrtälje".encode("cp437") in result.masked_copy


def test_a_file_without_numbers_has_no_masked_copy(tmp_path: Path):
    path = tmp_path / "clean.se"
    path.write_text("\n".join(ledger("Svensson")) + "\n", encoding="utf-8")
    result = sie.read(path)
    assert result.ok and result.scanned
    assert result.masked == [] and result.masked_copy is None
    assert sie.summary(result)["masked"] == {"count": 0, "lines": []}


def test_plain_numbers_where_the_specification_puts_numbers_are_kept(tmp_path: Path):
    """An amount is a number, not an identity, even when its digits would validate as one
    (1212121212 does): masking it would reject the ledger."""
    lines = [
        "#FLAGGA 0",
        "#SIETYP 4",
        "#RAR 0 20230101 20231231",
        "#KONTO 1930 Bank",
        "#KONTO 2081 Kapital",
        "#IB 0 1930 0.00",
        "#UB 0 1930 1212121212.00",
        "#VER A 1 20230131",
        "{",
        "#TRANS 1930 {} 1212121212.00 20230131",
        '#TRANS 2081 {} -1212121212 20230131 "Kund 1212121212"',
        "}",
    ]
    path = tmp_path / "large.se"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = sie.read(path)
    assert result.ok, [str(e) for e in result.errors]
    rows = result.tables[sie.TRANSACTIONS_TABLE]
    assert rows["amount"].cast(pl.String).to_list() == ["1212121212.00", "-1212121212.00"]
    assert rows["transaction_text"].to_list() == [None, f"Kund {MASK}"]
    assert result.masked == ["line 11"]


def crc_record(label: str, *fields: str) -> tuple[str, str]:
    """A record's line (every field quoted) and what it adds to #KSUMMA."""
    line = " ".join([label, *(f'"{value}"' for value in fields)])
    return line, label + "".join(fields)


def test_ksumma_counts_the_file_as_written_not_as_masked(tmp_path: Path):
    records = [
        crc_record("#SIETYP", "4"),
        crc_record("#FNAMN", "Kund 19121212-1212"),
        crc_record("#RAR", "0", "20230101", "20231231"),
        crc_record("#IB", "0", "1930", "10.00"),
    ]
    checksum = zlib.crc32("".join(crc for _, crc in records).encode("cp437"))
    text = "\n".join(
        ["#FLAGGA 0", "#KSUMMA", *(line for line, _ in records), f"#KSUMMA {checksum}"]
    )
    path = tmp_path / "ksumma.se"
    path.write_text(text + "\n", encoding="ascii")
    result = sie.read(path)
    assert result.ok, [str(e) for e in result.errors]
    assert result.tables[sie.FILES_TABLE]["ksumma_valid"][0] is True
    assert result.tables[sie.FILES_TABLE]["company_name"][0] == f"Kund {MASK}"


def test_errors_of_a_rejected_file_never_hold_the_number(tmp_path: Path):
    """Masked before it is read: a voucher named by it, a line that is no record, an
    undeclared account; the masked copy is there for a rejected file too."""
    number = "121212 1212"
    lines = [
        "#FLAGGA 0",
        "#SIETYP 4",
        "#RAR 0 20230101 20231231",
        "#KONTO 4610 Köp",
        f"kund {number}",
        f'#VER "{number}" 1 20230131',
        "{",
        "#TRANS 4610 {} 100.00",
        "#TRANS 1212121212 {} -99.00",
        "}",
    ]
    path = tmp_path / "bad.se"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = sie.read(path)
    assert [(e.place, e.rule) for e in result.errors] == [
        ("line 5", "the line is neither a record (#LABEL fields) nor { or }"),
        (
            "line 6",
            f"voucher {MASK} 1 (#VER at line 6) does not balance: its #TRANS/#RTRANS rows "
            "sum to 1.00",
        ),
        ("line 9", f"account {MASK} is not declared by #KONTO (1 #TRANS record)"),
    ]
    said = [str(e) for e in result.errors] + result.notes + [json.dumps(sie.summary(result))]
    assert not [text for text in said if pii.contains_personnummer(text)]
    assert result.scanned and result.masked == ["line 5", "line 6", "line 9"]
    assert result.masked_copy is not None
    assert not pii.contains_personnummer(result.masked_copy.decode("utf-8"))


def test_a_file_that_does_not_decode_is_not_scanned(tmp_path: Path):
    path = tmp_path / "utf16.se"
    path.write_bytes("#FLAGGA 0\n#FNAMN 19121212-1212\n".encode("utf-16"))
    result = sie.read(path)
    assert not result.ok and not result.scanned and result.masked_copy is None


def test_landing_keeps_only_masked_copies(tmp_path: Path):
    """The archive keeps an accepted ledger's masked copy (the load log: the original's
    sha256, how many and where), quarantine a rejected one's; no file holds the number."""
    number = "19121212-1212"
    store = FileStore(
        landing_dir=tmp_path / "landing",
        archive_dir=tmp_path / "archive",
        quarantine_dir=tmp_path / "quarantine",
    )
    folder = store.landing_dir / "sie"
    folder.mkdir(parents=True)
    good = folder / "kson_2023.se"
    good.write_bytes(("\n".join(ledger(number)) + "\n").encode("utf-8"))
    bad = folder / "kson_2022.se"
    bad.write_bytes(("\n".join(ledger(number)[:-1]) + "\n").encode("utf-8"))  # cut short
    with duckdb.connect(str(tmp_path / "build.duckdb")) as con:
        outcome = load_family(con, FAMILIES["sie"], store)
        assert [path for path, _ in outcome.accepted] == ["sie/kson_2023.se"]
        assert [path for path, _ in outcome.quarantined] == ["sie/kson_2022.se"]
        [(sha, count, places, archive)] = con.execute(
            "SELECT sha256, masked_count, masked_places, archive_path FROM raw.load_log"
        ).fetchall()
    assert sha == sha256_of(good)
    assert count == 17 and places[:3] == ["line 3", "line 5", "line 6"]
    kept = (store.archive_dir / archive).read_bytes()
    assert kept == good.read_bytes().replace(number.encode(), MASK.encode())
    [copy] = [p for p in (store.quarantine_dir / "sie").iterdir() if p.suffix == ".se"]
    assert MASK.encode() in copy.read_bytes()
    for path in [*store.archive_dir.rglob("*"), *store.quarantine_dir.rglob("*")]:
        if path.is_file():
            assert not pii.contains_personnummer(path.read_bytes().decode("utf-8")), path
