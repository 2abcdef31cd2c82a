"""The SIE 4 reader on the twelve real files of the reference corpus, and on hand-made files
for each rule and each corner of the syntax."""

import datetime as dt
import json
import os
import random
import time
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from ingest import sie
from ingest.validation import ReadResult

FILES = [
    "alipsa_44_sie4.se",
    "jsisie_BL0001_typ4.SE",
    "jsisie_Bokslut_Norstedts_SIE_4E.se",
    "jsisie_Norstedts_Bokslut_SIE_4I.si",
    "jsisie_SIE4_Exempelfil_med_underdim.SE",
    "jsisie_sie_4.SE",
    "jsisie_transaktioner_ovnbolag-bad-balance.se",
    "jsisie_transaktioner_ovnbolag.se",
    "sie4j_BLBLOV_SIE4.SE",
    "sie4j_BLBLOV_SIE4_UTF_8_with_imbalanced_voucher.SE",
    "sie4j_Quotes_test.si",
    "sie4j_SIE_with_missing_program_version.se",
]
BROKEN = {
    "jsisie_transaktioner_ovnbolag-bad-balance.se",
    "sie4j_BLBLOV_SIE4_UTF_8_with_imbalanced_voucher.SE",
}


@pytest.fixture(scope="session")
def corpus_dir(shared_reference: Path) -> Path:
    return shared_reference / "sie"


@pytest.fixture(scope="module")
def corpus(corpus_dir: Path) -> dict[str, ReadResult]:
    return {name: sie.read(corpus_dir / name) for name in FILES}


def table(result: ReadResult, name: str) -> pl.DataFrame:
    frame = result.tables[name]
    assert isinstance(frame, pl.DataFrame)
    return frame


def file_row(result: ReadResult) -> dict:
    return table(result, sie.FILES_TABLE).row(0, named=True)


def balance(result: ReadResult, kind: str, account: str, year: int = 0) -> Decimal:
    rows = table(result, sie.BALANCES_TABLE).filter(
        (pl.col("kind") == kind) & (pl.col("account") == account) & (pl.col("year_index") == year)
    )
    assert rows.height == 1
    return rows["amount"][0]


def objects(*pairs: tuple[int, str]) -> list[dict]:
    return [{"dimension": d, "object": o} for d, o in pairs]


# --------------------------------------------------------------------------------------------
# The corpus: every file, its outcome and a few values each
# --------------------------------------------------------------------------------------------
def test_the_corpus_is_all_there(corpus_dir: Path):
    assert sorted(p.name for p in corpus_dir.iterdir() if p.name != "README.md") == sorted(FILES)


@pytest.mark.parametrize("name", FILES)
def test_every_corpus_file_is_recognised_as_sie(corpus_dir: Path, name: str):
    assert sie.accepts(corpus_dir / name)


# name: (encoding, sie_type, vouchers, TRANS+RTRANS rows, BTRANS rows, skipped twins, KSUMMA)
OUTCOMES = {
    "alipsa_44_sie4.se": ("cp437", "4E", 286, 949, 0, 0, True),
    "jsisie_BL0001_typ4.SE": ("cp437", "4E", 84, 405, 3, 6, None),
    "jsisie_Bokslut_Norstedts_SIE_4E.se": ("cp437", "4E", 177, 678, 0, 0, True),
    "jsisie_Norstedts_Bokslut_SIE_4I.si": ("cp437", "4I", 2, 4, 0, 0, True),
    "jsisie_SIE4_Exempelfil_med_underdim.SE": ("utf-8", "4E", 295, 1330, 0, 0, None),
    "jsisie_sie_4.SE": ("cp437", "4E", 20, 76, 1, 1, None),
    "jsisie_transaktioner_ovnbolag-bad-balance.se": ("cp437", "4E", 163, 671, 0, 0, None),
    "jsisie_transaktioner_ovnbolag.se": ("cp437", "4E", 163, 671, 0, 0, None),
    "sie4j_BLBLOV_SIE4.SE": ("cp437", "4E", 20, 74, 0, 0, None),
    "sie4j_BLBLOV_SIE4_UTF_8_with_imbalanced_voucher.SE": ("utf-8", "4E", 20, 74, 0, 0, None),
    "sie4j_Quotes_test.si": ("utf-8", "4I", 1, 3, 0, 0, None),
    "sie4j_SIE_with_missing_program_version.se": ("cp437", "4E", 3, 23, 0, 0, None),
}


@pytest.mark.parametrize("name", FILES)
def test_corpus_outcome(corpus: dict[str, ReadResult], name: str):
    result = corpus[name]
    encoding, sie_type, vouchers, rows, btrans, twins, ksumma = OUTCOMES[name]
    if name in BROKEN:
        assert not result.ok and not result.tables
    else:
        assert result.ok, [str(e) for e in result.errors]
        assert set(result.tables) == set(sie.TABLE_SCHEMAS)
        for table_name, schema in sie.TABLE_SCHEMAS.items():
            assert table(result, table_name).schema == schema, table_name
        assert file_row(result)["encoding"] == encoding
        assert file_row(result)["ksumma_valid"] is ksumma
        transactions = table(result, sie.TRANSACTIONS_TABLE)
        assert transactions.height == rows + btrans
        assert transactions["voucher_line"].n_unique() <= vouchers
    summary = sie.summary(result)
    json.dumps(summary)  # what `kson validate --json` prints
    assert summary["encoding"] == encoding
    assert summary["sie_type"] == sie_type
    assert summary["vouchers"] == vouchers
    assert summary["transaction_rows"] == rows
    assert summary["btrans_rows"] == btrans
    assert summary["skipped_rtrans_twins"] == twins
    assert summary["ksumma"]["valid"] is ksumma
    assert summary["all_vouchers_balance"] is (name not in BROKEN)


def test_bad_balance_file_is_rejected_at_the_voucher(corpus: dict[str, ReadResult]):
    errors = corpus["jsisie_transaktioner_ovnbolag-bad-balance.se"].errors
    places = {e.place: e.rule for e in errors}
    assert places["line 3905"] == (
        "voucher B 1 (#VER at line 3905) does not balance: its #TRANS/#RTRANS rows sum to -12771.00"
    )
    # the same broken row makes account 1910 miss its closing balance
    assert "account 1910: opening balance 4220.75" in places["line 1754"]
    assert "closing balance (#UB 0) is 1713.75" in places["line 1754"]
    assert len(errors) == 2
    summary = sie.summary(corpus["jsisie_transaktioner_ovnbolag-bad-balance.se"])
    assert {"line": 3905, "rule": places["line 3905"]} in summary["errors"]


def test_utf8_imbalanced_file_is_rejected_at_the_voucher(corpus: dict[str, ReadResult]):
    result = corpus["sie4j_BLBLOV_SIE4_UTF_8_with_imbalanced_voucher.SE"]
    places = {e.place: e.rule for e in result.errors}
    assert places["line 821"] == (
        "voucher A 1 (#VER at line 821) does not balance: its #TRANS/#RTRANS rows sum to 0.10"
    )
    assert places["line 508"].startswith("account 2640: opening balance 58566.78")
    assert len(result.errors) == 2
    # it writes #PBUDGET without the object list; read as {} with a note
    assert any("276 record(s) without an object list" in n for n in result.notes)


def test_alipsa_visma_tabs_ksumma_and_a_non_ascii_object(corpus: dict[str, ReadResult]):
    result = corpus["alipsa_44_sie4.se"]
    head = file_row(result)
    assert head["program"] == "Visma Compact" and head["program_version"] == "6.00"
    assert head["company_name"] == "Övningsbolaget AB"
    assert head["org_nr"] == "556252-9155"
    assert head["generated_on"] == dt.date(2011, 3, 18)
    assert head["ksumma_present"] and head["ksumma_valid"]
    assert balance(result, "IB", "1930") == Decimal("263238.84")
    assert balance(result, "UB", "1930") == Decimal("202756.59")
    # IB + the year's 1930 rows = UB: 263238.84 - 60482.25 = 202756.59
    assert sie.summary(result)["account_sums_year0"]["1930"] == "-60482.25"
    names = dict(table(result, sie.OBJECTS_TABLE).select("object", "name").iter_rows())
    assert names["SÄLJ"] == "Försäljning"
    first = table(result, sie.TRANSACTIONS_TABLE).row(0, named=True)
    assert first["voucher_series"] == "A" and first["voucher_number"] == "1"
    assert first["transaction_text"] == "Årsavgift banken"
    assert first["amount"] == Decimal("-1250.00") and first["quantity"] == Decimal("0")
    years = table(result, sie.YEARS_TABLE).sort("year_index").rows()
    assert years == [
        (-1, dt.date(2009, 1, 1), dt.date(2009, 12, 31)),
        (0, dt.date(2010, 1, 1), dt.date(2010, 12, 31)),
    ]


def test_bl0001_rtrans_btrans_and_object_balances(corpus: dict[str, ReadResult]):
    result = corpus["jsisie_BL0001_typ4.SE"]
    rows = table(result, sie.TRANSACTIONS_TABLE)
    a8 = rows.filter((pl.col("voucher_series") == "A") & (pl.col("voucher_number") == "8"))
    # lines 614-620: BTRANS, RTRANS, (its #TRANS twin), BTRANS, RTRANS, (twin), BTRANS
    assert a8.select("row_kind", "row_number", "account", "source_line").rows() == [
        ("BTRANS", 1, "1930", 614),
        ("RTRANS", 2, "1930", 615),
        ("BTRANS", 3, "2640", 617),
        ("RTRANS", 4, "2640", 618),
        ("BTRANS", 5, "4010", 620),
    ]
    a25 = rows.filter((pl.col("voucher_series") == "A") & (pl.col("voucher_number") == "25"))
    assert a25.select("row_kind", "amount", "objects").rows() == [
        ("TRANS", Decimal("1000.00"), []),
        ("TRANS", Decimal("-1000.00"), []),
        ("RTRANS", Decimal("500.00"), []),
        ("RTRANS", Decimal("-500.00"), objects((1, "1"))),
    ]
    assert a25["transaction_date"][2] == dt.date(2010, 3, 26)  # the RTRANS's, not the twin's
    assert "sign" not in a25.columns  # who registered the row (a name) is not loaded
    oib = table(result, sie.BALANCES_TABLE).filter(pl.col("kind") == "OIB")
    assert oib.height == 6
    assert oib.row(0) == ("OIB", 0, None, "1930", objects((1, "1")), Decimal("7600.00"), None, 413)
    assert table(result, sie.BALANCES_TABLE).filter(pl.col("kind") == "OUB").height == 21
    assert table(result, sie.BALANCES_TABLE).filter(pl.col("kind") == "PBUDGET").height == 24
    assert (6, "┼1", "årsta") in table(result, sie.OBJECTS_TABLE).rows()  # as CP437 says
    assert file_row(result)["org_nr"] == "556265-1892"
    assert balance(result, "UB", "1930") == Decimal("869015.45")


def test_norstedts_4e_and_4i(corpus: dict[str, ReadResult]):
    export = corpus["jsisie_Bokslut_Norstedts_SIE_4E.se"]
    assert balance(export, "IB", "1930") == Decimal("1254288.77")  # after tabs and blanks
    assert balance(export, "UB", "1930") == Decimal("2312331.81")
    first = table(export, sie.TRANSACTIONS_TABLE).row(0, named=True)
    assert first["amount"] == Decimal("17240.00")  # written without decimals
    assert first["voucher_text"] == "Återföring"  # bare, not quoted
    imported = corpus["jsisie_Norstedts_Bokslut_SIE_4I.si"]
    assert table(imported, sie.BALANCES_TABLE).is_empty()
    assert table(imported, sie.ACCOUNTS_TABLE).height == 351
    last = table(imported, sie.TRANSACTIONS_TABLE).row(-1, named=True)
    assert (last["account"], last["amount"]) == ("2099", Decimal("-1104488.11"))
    assert last["voucher_text"] == "Årets resultat"


def test_underdim_file_declared_pc8_but_utf8(corpus: dict[str, ReadResult]):
    result = corpus["jsisie_SIE4_Exempelfil_med_underdim.SE"]
    assert any("says PC8 (CP437) but the file is valid UTF-8" in n for n in result.notes)
    assert any("replacement characters (U+FFFD)" in n for n in result.notes)
    dimensions = table(result, sie.DIMENSIONS_TABLE).rows()
    assert (61, "Kubernetesdrift", 6) in dimensions and (1, "Resultatenhet", None) in dimensions
    assert (6, "0001") in table(result, sie.OBJECTS_TABLE).select("dimension", "object").rows()
    row = table(result, sie.TRANSACTIONS_TABLE).filter(pl.col("source_line") == 2233)
    assert row["objects"][0].to_list() == objects((1, "Nord"), (6, "0001"))  # zeros kept
    assert row["amount"][0] == Decimal("-52625.00")
    assert balance(result, "UB", "1930") == Decimal("746686.19")
    accounts = table(result, sie.ACCOUNTS_TABLE)
    assert accounts.filter(pl.col("account") == "1070").row(0) == ("1070", "Goodwill", "T", "7201")


def test_sie_4_psaldo_and_one_rtrans(corpus: dict[str, ReadResult]):
    result = corpus["jsisie_sie_4.SE"]
    balances = table(result, sie.BALANCES_TABLE)
    assert balances.filter(pl.col("kind") == "PSALDO").height == 293
    first = balances.filter(pl.col("kind") == "PSALDO").row(0, named=True)
    assert (first["period"], first["account"], first["amount"]) == (
        "201101",
        "1400",
        Decimal("-2600.00"),
    )
    kinds = table(result, sie.TRANSACTIONS_TABLE)["row_kind"].value_counts().sort("row_kind")
    assert kinds.rows() == [("BTRANS", 1), ("RTRANS", 1), ("TRANS", 75)]
    assert balance(result, "IB", "1930") == Decimal("-536159.72")


def test_ovnbolag_periods_with_objects(corpus: dict[str, ReadResult]):
    result = corpus["jsisie_transaktioner_ovnbolag.se"]
    balances = table(result, sie.BALANCES_TABLE)
    counts = dict(balances["kind"].value_counts().rows())
    assert counts == {"IB": 55, "UB": 62, "RES": 104, "PSALDO": 705, "PBUDGET": 1248}
    assert balances["objects"].list.len().max() == 0  # its period balances all have {}
    rows = table(result, sie.TRANSACTIONS_TABLE)
    row = rows.filter(pl.col("source_line") == 3999).row(0, named=True)
    assert row["objects"] == objects((7, "1"))  # written {"7" "1"}
    assert row["transaction_text"] == "Grossisten HB"
    used = rows["objects"].explode().struct.field("dimension").drop_nulls().unique().sort()
    assert used.to_list() == [1, 6, 7]
    assert table(result, sie.DIMENSIONS_TABLE)["dimension"].to_list() == [1, 6, 7]
    assert balance(result, "UB", "1930") == Decimal("1511049.94")
    assert file_row(result)["currency"] == "SEK"


def test_blblov_budget(corpus: dict[str, ReadResult]):
    result = corpus["sie4j_BLBLOV_SIE4.SE"]
    budget = table(result, sie.BALANCES_TABLE).filter(pl.col("kind") == "PBUDGET")
    assert budget.height == 276
    assert budget.row(0)[:6] == ("PBUDGET", 0, "201701", "1119", [], Decimal("-1666.00"))
    assert any("#ORGNR is not a valid organisation number" in n for n in result.notes)
    assert balance(result, "UB", "1930") == Decimal("984091.74")
    voucher = table(result, sie.TRANSACTIONS_TABLE).row(0, named=True)
    assert voucher["voucher_reg_date"] == dt.date(2017, 1, 19)
    assert voucher["transaction_text"] is None  # "" is an empty field


def test_quotes_file(corpus: dict[str, ReadResult]):
    result = corpus["sie4j_Quotes_test.si"]
    head = file_row(result)
    assert head["program_version"] == '1.0 - "Oblique Ozelot" - alpha'
    assert head["company_name"] == "Övningsbolaget AB"  # unquoted, with a blank
    assert head["org_nr"] is None  # a personal identity number (sole trader): not stored
    assert any("#ORGNR is a personal identity number" in n for n in result.notes)
    assert not any("550226" in n for n in result.notes)
    rows = table(result, sie.TRANSACTIONS_TABLE)
    assert rows["voucher_text"].unique().to_list() == ['Försäljning 25% "DF:157"']
    assert rows["voucher_number"].unique().to_list() == [""]
    assert rows["voucher_reg_date"][0] == dt.date(2018, 5, 3)
    assert rows["amount"].to_list() == [Decimal("100.00"), Decimal("-20.00"), Decimal("-80.00")]


def test_file_without_format_record_is_cp437(corpus: dict[str, ReadResult]):
    result = corpus["sie4j_SIE_with_missing_program_version.se"]
    head = file_row(result)
    assert head["company_name"] == "Kartförlaget 1985 AB"
    assert (head["program"], head["program_version"], head["format"]) == ("SIR", None, None)
    assert any("no #FORMAT record: read as CP437" in n for n in result.notes)
    assert table(result, sie.TRANSACTIONS_TABLE)["amount"][4] == Decimal("0.22")


# --------------------------------------------------------------------------------------------
# Hand-made files
# --------------------------------------------------------------------------------------------
DOMAIN_EXAMPLE = """#FLAGGA 0
#FORMAT PC8
#SIETYP 4
#FNAMN "Kommunalförbundet Sjukvård och omsorg i Norrtälje"
#ORGNR 222000-1743
#RAR 0 20230101 20231231
#RAR -1 20220101 20221231
#KONTO 4610 "Köp av huvudverksamhet"
#KTYP 4610 K
#DIM 1 "Ansvar"
#OBJEKT 1 "100" "Äldreomsorg"
#IB 0 1930 1250000.00
#UB 0 1930 980000.00
#RES 0 4610 812000.00
#PSALDO 0 202301 4610 {1 "100"} 67000.00
#PBUDGET 0 202301 4610 {1 "100"} 70000.00
#VER A 1 20230131 "Hemtjänst januari"
{
#TRANS 4610 {1 "100" 6 "P12"} 67000.00 20230131 "Faktura 1001"
#TRANS 2440 {} -67000.00
}
"""

HEAD = """#FLAGGA 0
#FORMAT PC8
#SIETYP 4
#FNAMN "Test AB"
#RAR 0 20230101 20231231
#KONTO 1930 "Bank"
#KONTO 2440 "Leverantörsskulder"
#KONTO 4610 "Köp av huvudverksamhet"
"""
VOUCHER = """#VER A 1 20230131 "Januari"
{
#TRANS 4610 {} 100.00
#TRANS 2440 {} -100.00
}
"""


def write(folder: Path, text: str, name: str = "test.se", encoding: str = "cp437") -> Path:
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def rejected(path: Path) -> list[tuple[str, str]]:
    result = sie.read(path)
    assert not result.ok and not result.tables
    return [(e.place, e.rule) for e in result.errors]


def accepted(path: Path) -> ReadResult:
    result = sie.read(path)
    assert result.ok, [str(e) for e in result.errors]
    return result


def test_domain_example_as_written_breaks_two_rules(tmp_path: Path):
    """The DOMAIN.md example declares only 4610 and has no row on 1930 between IB and UB."""
    assert rejected(write(tmp_path, DOMAIN_EXAMPLE)) == [
        ("lines 12, 13", "account 1930 is not declared by #KONTO (2 #IB/#UB records)"),
        (
            "line 13",
            "account 1930: opening balance 1250000.00 (#IB 0, line 12) + the year's transactions "
            "0.00 = 1250000.00, but the closing balance (#UB 0) is 980000.00",
        ),
        ("line 20", "account 2440 is not declared by #KONTO (1 #TRANS record)"),
    ]


def test_domain_example_completed_reads_every_record(tmp_path: Path):
    text = DOMAIN_EXAMPLE.replace(
        "#KTYP 4610 K\n", '#KTYP 4610 K\n#KONTO 1930 "Bank"\n#KONTO 2440 "Leverantörsskulder"\n'
    ).replace("#UB 0 1930 980000.00", "#UB 0 1930 1250000.00")
    result = accepted(write(tmp_path, text))
    assert file_row(result) == {
        "sie_type": "4E",
        "format": "PC8",
        "encoding": "cp437",
        "program": None,
        "program_version": None,
        "generated_on": None,
        "company_name": "Kommunalförbundet Sjukvård och omsorg i Norrtälje",
        "org_nr": "222000-1743",
        "currency": "SEK",
        "ksumma_present": False,
        "ksumma_valid": None,
    }
    assert table(result, sie.YEARS_TABLE).rows() == [
        (0, dt.date(2023, 1, 1), dt.date(2023, 12, 31)),
        (-1, dt.date(2022, 1, 1), dt.date(2022, 12, 31)),
    ]
    assert ("4610", "Köp av huvudverksamhet", "K", None) in table(result, sie.ACCOUNTS_TABLE).rows()
    assert table(result, sie.DIMENSIONS_TABLE).rows() == [(1, "Ansvar", None)]
    assert table(result, sie.OBJECTS_TABLE).rows() == [(1, "100", "Äldreomsorg")]
    assert table(result, sie.BALANCES_TABLE).drop("source_line").rows() == [
        ("IB", 0, None, "1930", [], Decimal("1250000.00"), None),
        ("UB", 0, None, "1930", [], Decimal("1250000.00"), None),
        ("RES", 0, None, "4610", [], Decimal("812000.00"), None),
        ("PSALDO", 0, "202301", "4610", objects((1, "100")), Decimal("67000.00"), None),
        ("PBUDGET", 0, "202301", "4610", objects((1, "100")), Decimal("70000.00"), None),
    ]
    rows = table(result, sie.TRANSACTIONS_TABLE)
    assert rows.drop("voucher_line", "source_line").rows(named=True) == [
        {
            "voucher_series": "A",
            "voucher_number": "1",
            "voucher_date": dt.date(2023, 1, 31),
            "voucher_text": "Hemtjänst januari",
            "voucher_reg_date": None,
            "row_kind": "TRANS",
            "row_number": 1,
            "account": "4610",
            "objects": objects((1, "100"), (6, "P12")),
            "amount": Decimal("67000.00"),
            "transaction_date": dt.date(2023, 1, 31),
            "transaction_text": "Faktura 1001",
            "quantity": None,
        },
        {
            "voucher_series": "A",
            "voucher_number": "1",
            "voucher_date": dt.date(2023, 1, 31),
            "voucher_text": "Hemtjänst januari",
            "voucher_reg_date": None,
            "row_kind": "TRANS",
            "row_number": 2,
            "account": "2440",
            "objects": [],
            "amount": Decimal("-67000.00"),
            "transaction_date": None,
            "transaction_text": None,
            "quantity": None,
        },
    ]
    assert rows["voucher_line"].to_list() == [19, 19]
    assert rows["source_line"].to_list() == [21, 22]
    summary = sie.summary(result)
    assert summary["account_sums_year0"] == {"2440": "-67000.00", "4610": "67000.00"}
    assert summary["financial_years"][0] == {
        "year_index": 0,
        "start_date": "2023-01-01",
        "end_date": "2023-12-31",
    }


def test_escaped_quotes(tmp_path: Path):
    text = HEAD + (
        '#VER A 1 20230131 "Text \\"citat\\" slut"\n{\n'
        '#TRANS 4610 {1 "a \\"b\\""} 100.00 20230131 "rad \\"1\\""\n'
        '#TRANS 2440 {} -100.00 20230131 "x" 2 "Anna \\"A\\"" extra-field\n'
        "}\n"
    )
    rows = table(accepted(write(tmp_path, text)), sie.TRANSACTIONS_TABLE)
    assert rows["voucher_text"][0] == 'Text "citat" slut'
    assert rows["objects"][0].to_list() == objects((1, 'a "b"'))
    assert rows["transaction_text"].to_list() == ['rad "1"', "x"]
    assert rows["quantity"][1] == Decimal("2")


def test_tabs_and_runs_of_blanks(tmp_path: Path):
    text = HEAD.replace("#RAR 0 ", "#RAR\t0\t") + (
        '#VER\tA\t1\t20230131\t"Januari"\n{\n'
        '\t#TRANS\t4610\t{1\t"100"}\t100.00\t20230131\n'
        "   #TRANS  2440 \t {}   -100.00  \n"
        "}\n"
    )
    result = accepted(write(tmp_path, text))
    rows = table(result, sie.TRANSACTIONS_TABLE)
    assert rows.select("account", "amount").rows() == [
        ("4610", Decimal("100.00")),
        ("2440", Decimal("-100.00")),
    ]
    assert rows["objects"][0].to_list() == objects((1, "100"))


def test_object_lists_quoted_bare_and_empty(tmp_path: Path):
    text = HEAD + (
        "#VER A 1 20230131\n{\n"
        '#TRANS 4610 {"1" "0100" "6" "P 1"} 25.00\n'
        "#TRANS 4610 {1 0100 6 P12} 25.00\n"
        "#TRANS 4610 { } 25.00\n"
        "#TRANS 4610 {} 25.00\n"
        "#TRANS 2440 {} -100\n"
        "}\n"
    )
    rows = table(accepted(write(tmp_path, text)), sie.TRANSACTIONS_TABLE)
    assert [r.to_list() for r in rows["objects"]] == [
        objects((1, "0100"), (6, "P 1")),
        objects((1, "0100"), (6, "P12")),
        [],
        [],
        [],
    ]


def test_missing_optional_fields(tmp_path: Path):
    text = (
        "#FLAGGA 0\n#SIETYP 4\n#RAR 0 20230101 20231231\n#KONTO 4610\n#KONTO 2440 Skulder\n"
        '#VER "" "" 20230131\n{\n#TRANS 4610 {} 100.00\n#TRANS 2440 {} -100.00 "" ""\n}\n'
    )
    result = accepted(write(tmp_path, text, name="ledger"))
    head = file_row(result)
    assert (head["sie_type"], head["currency"], head["company_name"]) == ("4", "SEK", None)
    assert head["format"] is None and head["encoding"] == "utf-8"  # plain ASCII, no #FORMAT
    assert table(result, sie.ACCOUNTS_TABLE).rows() == [
        ("4610", None, None, None),
        ("2440", "Skulder", None, None),
    ]
    row = table(result, sie.TRANSACTIONS_TABLE).row(1, named=True)
    assert (row["voucher_series"], row["voucher_number"], row["voucher_text"]) == ("", "", None)
    assert row["transaction_date"] is None and row["transaction_text"] is None


def test_unknown_records_are_ignored_with_a_note(tmp_path: Path):
    text = (
        HEAD
        + '#FOO 1 "x"\n#BAR\n{\n#BAZ 2\n}\n'
        + VOUCHER.replace("#TRANS 2440", "#XTRANS 1\n#TRANS 2440")
    )
    result = accepted(write(tmp_path, text))
    assert "unknown record #BAR ignored (1 line(s): 10)" in result.notes
    assert "unknown record #FOO ignored (1 line(s): 9)" in result.notes
    assert "unknown record #XTRANS ignored (1 line(s): 17)" in result.notes
    assert table(result, sie.TRANSACTIONS_TABLE).height == 2


def test_crlf_lone_cr_and_ctrl_z(tmp_path: Path):
    text = HEAD + VOUCHER
    for name, variant in (
        ("crlf.se", text.replace("\n", "\r\n") + "\x1a"),
        ("cr.se", text.replace("\n", "\r")),
        ("glued.se", text.rstrip("\n") + "\x1a"),
    ):
        result = accepted(write(tmp_path, variant, name))
        assert table(result, sie.TRANSACTIONS_TABLE)["source_line"].to_list() == [11, 12]
        assert not result.notes


def test_lower_case_labels_are_read(tmp_path: Path):
    result = accepted(write(tmp_path, HEAD + VOUCHER.replace("#TRANS", "#trans")))
    assert table(result, sie.TRANSACTIONS_TABLE).height == 2


CUT_SHORT = (
    "the file ends inside this voucher: its #VER block is never closed by } (was the file cut "
    "short?)"
)


def test_truncated_voucher_block(tmp_path: Path):
    text = HEAD + VOUCHER + '#VER A 2 20230228 "Februari"\n{\n#TRANS 4610 {} 50.00\n'
    assert rejected(write(tmp_path, text)) == [("line 14", CUT_SHORT)]


def test_a_truncated_file_says_first_that_it_ends_inside_a_voucher(tmp_path: Path):
    """What the missing rows break (here the closing balance of 1930, written before the
    vouchers) comes after, however early its line."""
    text = (
        HEAD
        + "#IB 0 1930 0.00\n#UB 0 1930 300.00\n"
        + VOUCHER.replace("4610", "1930").replace("2440 {} -100.00", "2440 {} -100.00")
        + '#VER A 2 20230228 "Februari"\n{\n#TRANS 1930 {} 50.00\n'
    )
    errors = rejected(write(tmp_path, text))
    assert errors[0] == ("line 16", CUT_SHORT)
    assert errors[1][0] == "line 10"
    assert errors[1][1].startswith("account 1930: opening balance 0.00 (#IB 0, line 9)")
    assert len(errors) == 2


def test_voucher_block_never_closed_before_the_next_voucher(tmp_path: Path):
    text = HEAD + VOUCHER.replace("}\n", "") + VOUCHER.replace("A 1", "A 2")
    assert rejected(write(tmp_path, text)) == [("line 9", "the #VER block is not closed by }")]


def test_braces_and_rows_out_of_place(tmp_path: Path):
    text = HEAD + "{\n}\n#TRANS 4610 {} 1.00\n" + VOUCHER + '#VER A 2 20230131 "x"\n#KONTO 1 a\n'
    assert rejected(write(tmp_path, text)) == [
        ("line 9", "{ out of place: a { … } block must follow a #VER record"),
        ("line 10", "} without an opening {"),
        ("line 11", "#TRANS outside a #VER { … } block"),
        ("line 17", "#VER is not followed by a { … } block"),
    ]


def test_unbalanced_voucher_and_btrans_outside_the_balance(tmp_path: Path):
    text = HEAD + (
        '#VER A 7 20230131 "x"\n{\n#TRANS 4610 {} 100.00\n#TRANS 2440 {} -99.99\n}\n'
        '#VER B 1 20230131 "y"\n{\n#TRANS 4610 {} 100.00\n#BTRANS 4610 {} 55.00\n'
        "#TRANS 2440 {} -100.00\n}\n"
    )
    assert rejected(write(tmp_path, text)) == [
        (
            "line 9",
            "voucher A 7 (#VER at line 9) does not balance: its #TRANS/#RTRANS rows sum to 0.01",
        )
    ]


def test_rtrans_without_twin_is_noted(tmp_path: Path):
    text = HEAD + ('#VER A 1 20230131 "x"\n{\n#TRANS 4610 {} 100.00\n#RTRANS 2440 {} -100.00\n}\n')
    result = accepted(write(tmp_path, text))
    assert table(result, sie.TRANSACTIONS_TABLE)["row_kind"].to_list() == ["TRANS", "RTRANS"]
    assert any("not followed by their #TRANS twin (lines 12)" in n for n in result.notes)


def test_bad_encodings(tmp_path: Path):
    utf16 = write(tmp_path, HEAD + VOUCHER, "utf16.se", "utf-16")
    assert rejected(utf16) == [
        ("line 1", "the file is not 8-bit text: it holds NUL bytes (UTF-16 or a binary file?)")
    ]
    declared_utf8 = write(tmp_path, HEAD.replace("PC8", "UTF8") + VOUCHER, "utf8.se", "cp437")
    assert rejected(declared_utf8) == [
        ("line 2", "#FORMAT says UTF8 but the file is not valid UTF-8")
    ]
    unknown = write(tmp_path, HEAD.replace("PC8", "EBCDIC") + VOUCHER, "ebcdic.se")
    assert rejected(unknown) == [
        ("line 2", "#FORMAT names a character set this reader does not know")
    ]


def test_files_without_format_record(tmp_path: Path):
    text = HEAD.replace("#FORMAT PC8\n", "") + VOUCHER
    for encoding, expected in (("cp1252", "cp1252"), ("cp437", "cp437"), ("utf-8", "utf-8")):
        result = accepted(write(tmp_path, text, f"{encoding}.se", encoding))
        assert file_row(result)["encoding"] == expected
        accounts = dict(table(result, sie.ACCOUNTS_TABLE).select("account", "name").iter_rows())
        assert accounts["2440"] == "Leverantörsskulder"


def test_transaction_on_an_undeclared_account(tmp_path: Path):
    text = HEAD + VOUCHER.replace("#TRANS 4610", "#TRANS 4611") + "#UB 0 4611 5.00\n"
    assert rejected(write(tmp_path, text)) == [
        ("lines 11, 14", "account 4611 is not declared by #KONTO (2 #TRANS/#UB records)")
    ]


def test_no_konto_records_no_account_rule(tmp_path: Path):
    text = "\n".join(line for line in HEAD.splitlines() if not line.startswith("#KONTO"))
    accepted(write(tmp_path, text + "\n" + VOUCHER))


def test_opening_balance_plus_transactions_differs_from_closing(tmp_path: Path):
    text = (
        HEAD
        + (
            "#IB 0 2440 -500.00\n#UB 0 2440 -600.00\n"  # -500 - 100 = -600: right
            "#IB 0 1930 1000.00\n#UB 0 1930 1000.01\n"  # no rows: wrong by 0.01
            "#IB 0 4610 0.00\n#UB 0 4610 7.00\n"  # class 4: not a balance-sheet account
            "#IB -1 1930 1.00\n#UB -1 1930 2.00\n"  # year -1: not checked
        )
        + VOUCHER
        + '#VER A 2 20240105 "next year"\n{\n#TRANS 2440 {} 5\n#TRANS 4610 {} -5\n}\n'
    )
    path = write(tmp_path, text)
    assert (
        "1 voucher(s) dated outside financial year 0 (first at line 22): not in the year-0 sums "
        "nor the #IB/#UB check"
    ) in sie.read(path).notes
    assert rejected(path) == [
        (
            "line 12",
            "account 1930: opening balance 1000.00 (#IB 0, line 11) + the year's transactions "
            "0.00 = 1000.00, but the closing balance (#UB 0) is 1000.01",
        )
    ]


def test_bad_dates_and_amounts(tmp_path: Path):
    text = HEAD + (
        '#VER A 1 20230230 "x" 2023-02-01\n{\n'
        '#TRANS 4610 {} 100,00 2023013\n#TRANS 2440 {} -100.001 20230131 "" 1.23456\n}\n'
        "#RAR -1 20220101 2022123\n#PSALDO 0 202313 4610 {} 1.00\n#GEN 20231301\n"
    )
    assert rejected(write(tmp_path, text)) == [
        ("line 9", "#VER: malformed voucher date (field 3)"),
        ("line 9", "#VER: malformed registration date (field 5)"),
        ("line 11", "#TRANS: malformed amount (field 3)"),
        ("line 11", "#TRANS: malformed transaction date (field 4)"),
        ("line 12", "#TRANS: malformed amount (field 3)"),
        ("line 12", "#TRANS: malformed quantity (field 6)"),
        ("line 14", "#RAR: malformed end date (field 3)"),
        ("line 15", "#PSALDO: malformed period (field 2)"),
        ("line 16", "#GEN: malformed date (field 1)"),
    ]


@pytest.mark.parametrize("text", ["", "\r\n  \n", "\x1a"])
def test_an_empty_file_is_rejected(tmp_path: Path, text: str):
    assert rejected(write(tmp_path, text)) == [("file", "the file is empty")]


def test_a_header_only_file_is_rejected_not_loaded_as_a_ledger_of_nulls(tmp_path: Path):
    assert rejected(write(tmp_path, HEAD + '#DIM 1 "Ansvar"\n#VER A 1 20230131\n{\n}\n')) == [
        ("file", "the file holds no voucher rows and no balances: not a ledger")
    ]
    assert accepted(write(tmp_path, HEAD + "#IB 0 1930 0.00\n"))  # balances alone are a ledger


def test_amounts_and_quantities_at_their_bound_pass(tmp_path: Path):
    largest = VOUCHER.replace("100.00", "100000000000.00").replace(
        "{} -100000000000.00", '{} -100000000000.00 20230131 "" 1000000000'
    )
    text = HEAD + largest + "#PSALDO 0 202301 4610 {} 100000000000.00 -1000000000\n"
    rows = table(accepted(write(tmp_path, text)), sie.TRANSACTIONS_TABLE)
    assert rows["amount"].to_list() == [Decimal("100000000000.00"), Decimal("-100000000000.00")]
    assert rows["quantity"].to_list() == [None, Decimal("1000000000")]


def test_amounts_and_quantities_above_their_bound_are_rejected(tmp_path: Path):
    voucher = VOUCHER.replace("100.00", "100000000000.01").replace(
        "{} -100000000000.01", '{} -100000000000.01 20230131 "" -1000000000.0001'
    )
    text = HEAD + voucher + "#PSALDO 0 202301 4610 {} -100000000000.01 1000000000.0001\n"
    result = sie.read(write(tmp_path, text))
    assert [(e.place, e.rule, e.expected) for e in result.errors] == [
        (
            "line 11",
            "#TRANS: amount (field 3) outside the plausible range",
            "-100000000000 to 100000000000 SEK",
        ),
        (
            "line 12",
            "#TRANS: amount (field 3) outside the plausible range",
            "-100000000000 to 100000000000 SEK",
        ),
        (
            "line 12",
            "#TRANS: quantity (field 6) outside the plausible range",
            "-1000000000 to 1000000000 units",
        ),
        (
            "line 14",
            "#PSALDO: amount (field 5) outside the plausible range",
            "-100000000000 to 100000000000 SEK",
        ),
        (
            "line 14",
            "#PSALDO: quantity (field 6) outside the plausible range",
            "-1000000000 to 1000000000 units",
        ),
    ]


def test_the_amounts_of_a_file_are_bounded_together(tmp_path: Path):
    voucher = VOUCHER.replace("100.00", "100000000000.00")
    assert accepted(write(tmp_path, HEAD + voucher * 50))  # 100 rows of 10^11: 10^13
    assert rejected(write(tmp_path, HEAD + voucher * 50 + "#IB 0 1930 0.01\n")) == [
        ("file", "the amounts of the file add up to more than is plausible")
    ]


@pytest.mark.parametrize("orgnr", ["lj", "Θj-1", "12-3"])
def test_an_orgnr_of_any_shape_is_a_note_not_an_error(tmp_path: Path, orgnr: str):
    result = accepted(write(tmp_path, HEAD + f"#ORGNR {orgnr}\n" + VOUCHER, encoding="utf-8"))
    assert any("#ORGNR is not a valid organisation number" in note for note in result.notes)


def test_extra_zero_decimals_are_exact(tmp_path: Path):
    text = HEAD + VOUCHER.replace("100.00", "100.000", 1).replace("-100.00", "-100")
    rows = table(accepted(write(tmp_path, text)), sie.TRANSACTIONS_TABLE)
    assert rows["amount"].to_list() == [Decimal("100.00"), Decimal("-100.00")]


def test_syntax_errors(tmp_path: Path):
    text = HEAD + (
        '#VER A 1 20230131 "x\n{\n#TRANS 4610 {1 "100" 100.00\n#TRANS 4610 {1} 1.00\n'
        "#TRANS 4610 {x 1} -1.00\n#TRANS 2440 {}\nnot a record\n#TRANS 4610 {} 1 {1 2}\n}\n"
    )
    assert rejected(write(tmp_path, text)) == [
        ("line 9", "#VER: a quoted field is not closed"),  # the voucher still opens
        ("line 11", "#TRANS: an object list { … } is not closed"),
        ("line 12", "#TRANS: the object list does not hold pairs of dimension and object"),
        ("line 13", "#TRANS: a dimension in the object list is not a number"),
        ("line 14", "#TRANS has too few fields or an object list out of place"),
        ("line 15", "the line is neither a record (#LABEL fields) nor { or }"),
        ("line 16", "#TRANS has too few fields or an object list out of place"),
    ]


def test_ksumma_mismatch_and_cut_short(tmp_path: Path, corpus_dir: Path):
    original = (corpus_dir / "alipsa_44_sie4.se").read_bytes()
    changed = original.replace(b'"Visma Compact"', b'"Visma Kompakt"')
    errors = rejected(write(tmp_path, changed.decode("cp437"), "changed.se"))
    closing = original.count(b"\n", 0, original.rindex(b"#KSUMMA")) + 1
    assert errors == [
        (
            f"line {closing}",
            "#KSUMMA does not match the file's content: the file says 2215893042, the records "
            f"give {errors[0][1].rsplit(' ', 1)[1]}",
        )
    ]
    cut = original[: original.rindex(b"#KSUMMA")]
    assert rejected(write(tmp_path, cut.decode("cp437"), "cut.se")) == [
        ("line 2", "#KSUMMA opened here is never closed: the file was cut short")
    ]


def test_errors_are_capped_per_rule(tmp_path: Path):
    vouchers = "".join(
        f'#VER A {n} 20230131 "x"\n{{\n#TRANS 4610 {{}} 1.00\n}}\n' for n in range(1, 31)
    )
    result = sie.read(write(tmp_path, HEAD + vouchers))
    assert len(result.errors) == sie.MAX_ERRORS_PER_RULE + 1
    last = result.errors[-1]
    assert last.rule == "a voucher that does not balance — 10 more not listed"
    assert last.place == "lines 89, 93, 97, 101, 105 (and 5 more)"
    summary = sie.summary(result)
    assert summary["all_vouchers_balance"] is False and summary["vouchers"] == 30


def test_accepts(tmp_path: Path):
    assert sie.accepts(write(tmp_path, HEAD, "no_extension"))
    assert sie.accepts(write(tmp_path, "\n\n#PROGRAM x 1\n#SIETYP 4\n", "late.txt"))
    assert not sie.accepts(write(tmp_path, "visit_id,provider_org_nr\n", "visits_2023.csv"))
    assert not sie.accepts(write(tmp_path, "", "empty.se"))
    assert not sie.accepts(tmp_path / "missing.se")


def test_summary_of_a_plain_read_result(corpus: dict[str, ReadResult]):
    result = corpus["sie4j_BLBLOV_SIE4.SE"]
    plain = ReadResult(tables=dict(result.tables), notes=list(result.notes))
    assert sie.summary(plain)["account_sums_year0"] == sie.summary(result)["account_sums_year0"]
    assert sie.summary(plain)["transaction_rows"] == 74


# --------------------------------------------------------------------------------------------
# Speed: a generated 500,000-row ledger (run with KSON_SIE_BENCH=1)
# --------------------------------------------------------------------------------------------
def generate_ledger(path: Path, rows: int, seed: int = 1) -> Path:
    rnd = random.Random(seed)
    lines = HEAD.splitlines() + ['#DIM 1 "Ansvar"', '#OBJEKT 1 "100" "Äldreomsorg"']
    number = 0
    while number * 4 < rows:
        number += 1
        date = f"2023{1 + number % 12:02d}{1 + number % 28:02d}"
        a, b = rnd.randint(1, 10**8) / 100, rnd.randint(1, 10**8) / 100
        lines += [
            f'#VER A {number} {date} "Hemtjänst {number} \\"x\\"" {date}',
            "{",
            f'\t#TRANS 4610 {{1 "100" 6 "P{number % 50}"}} {a:.2f} {date} "Faktura {number}"',
            f'\t#TRANS 4610 {{1 "100"}} {b:.2f}',
            f'\t#TRANS 2440 {{}} -{a:.2f} {date} "Leverantör"',
            f"\t#TRANS 2440 {{}} -{b:.2f}",
            "}",
        ]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp437"))
    return path


@pytest.mark.skipif(not os.environ.get("KSON_SIE_BENCH"), reason="set KSON_SIE_BENCH=1")
def test_speed_on_500000_rows(tmp_path: Path):
    path = generate_ledger(tmp_path / "big.se", 500_000)
    start = time.perf_counter()
    result = sie.read(path)
    seconds = time.perf_counter() - start
    assert result.ok, [str(e) for e in result.errors[:5]]
    assert table(result, sie.TRANSACTIONS_TABLE).height == 500_000
    print(f"\n500,000 rows ({path.stat().st_size / 1e6:.0f} MB) read in {seconds:.1f} s")


def test_speed_smoke(tmp_path: Path):
    """A 20,000-row ledger reads through the fast path (the same code as 500,000 rows)."""
    result = accepted(generate_ledger(tmp_path / "mid.se", 20_000))
    rows = table(result, sie.TRANSACTIONS_TABLE)
    assert rows.height == 20_000
    assert rows["voucher_text"][0] == 'Hemtjänst 1 "x"'
    assert sie.summary(result)["account_sums_year0"]["2440"] == str(
        -rows.filter(pl.col("account") == "4610")["amount"].sum()
    )
