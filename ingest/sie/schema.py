"""The contract in constants: the raw tables, the formats and bounds of the values, and the
records of the specification (which are read, their syntax, their least number of fields)."""

from __future__ import annotations

import polars as pl

from ingest.validation import Bound

SOURCE = "sie"

FILES_TABLE = "sie_files"
YEARS_TABLE = "sie_years"
ACCOUNTS_TABLE = "sie_accounts"
DIMENSIONS_TABLE = "sie_dimensions"
OBJECTS_TABLE = "sie_objects"
BALANCES_TABLE = "sie_balances"
TRANSACTIONS_TABLE = "sie_transactions"

MONEY = pl.Decimal(18, 2)
QUANTITY = pl.Decimal(18, 4)
OBJECT_LIST = pl.List(pl.Struct({"dimension": pl.Int32, "object": pl.String}))

TABLE_SCHEMAS: dict[str, pl.Schema] = {
    FILES_TABLE: pl.Schema(
        {
            "sie_type": pl.String,
            "format": pl.String,
            "encoding": pl.String,
            "program": pl.String,
            "program_version": pl.String,
            "generated_on": pl.Date,
            "company_name": pl.String,
            "org_nr": pl.String,
            "currency": pl.String,
            "ksumma_present": pl.Boolean,
            "ksumma_valid": pl.Boolean,
        }
    ),
    YEARS_TABLE: pl.Schema({"year_index": pl.Int32, "start_date": pl.Date, "end_date": pl.Date}),
    ACCOUNTS_TABLE: pl.Schema(
        {
            "account": pl.String,
            "name": pl.String,
            "account_type": pl.String,
            "sru": pl.String,
        }
    ),
    DIMENSIONS_TABLE: pl.Schema(
        {"dimension": pl.Int32, "name": pl.String, "parent_dimension": pl.Int32}
    ),
    OBJECTS_TABLE: pl.Schema({"dimension": pl.Int32, "object": pl.String, "name": pl.String}),
    BALANCES_TABLE: pl.Schema(
        {
            "kind": pl.String,
            "year_index": pl.Int32,
            "period": pl.String,
            "account": pl.String,
            "objects": OBJECT_LIST,
            "amount": MONEY,
            "quantity": QUANTITY,
            "source_line": pl.Int32,
        }
    ),
    TRANSACTIONS_TABLE: pl.Schema(
        {
            "voucher_series": pl.String,
            "voucher_number": pl.String,
            "voucher_date": pl.Date,
            "voucher_text": pl.String,
            "voucher_reg_date": pl.Date,
            "voucher_line": pl.Int32,
            "row_kind": pl.String,
            "row_number": pl.Int32,
            "account": pl.String,
            "objects": OBJECT_LIST,
            "amount": MONEY,
            "transaction_date": pl.Date,
            "transaction_text": pl.String,
            "quantity": QUANTITY,
            # The #TRANS sign field (who registered the row, often a person's name) is read
            # (and masked like every text) but not loaded: no names in the warehouse.
            "source_line": pl.Int32,
        }
    ),
}


# Formats of the values, checked before casting. An amount has at most two decimals (more
# are accepted when they are zeros: ``100.000``); a quantity at most four.
AMOUNT = r"^-?[0-9]{1,16}(\.[0-9]{1,2}0*)?$"
QUANTITY_FORMAT = r"^-?[0-9]{1,14}(\.[0-9]{1,4}0*)?$"
DATE = r"^[0-9]{8}$"
PERIOD = r"^[0-9]{4}(0[1-9]|1[0-2])$"
YEAR_INDEX = r"^(0|-[1-9][0-9]{0,2})$"
EXPECTED_AMOUNT = "digits, a point before at most two decimals, minus for credit: -1234.50"
EXPECTED_QUANTITY = "digits, a point before at most four decimals: 12.5"
EXPECTED_DATE = "a real date as YYYYMMDD, e.g. 20230131"
# Plausible ranges (docs/contracts/sie.md, "Bounds"): one amount, one quantity, and every
# amount of the file together (which keeps the marts' sums within DECIMAL(18,2)).
AMOUNT_BOUND = Bound(-(10**11), 10**11, "SEK")
QUANTITY_BOUND = Bound(-(10**9), 10**9, "units")
TOTAL_BOUND = Bound(0, 10**13, "SEK, the sum of |amount| over the file's rows and balances")

BALANCE_KINDS = ("IB", "UB", "RES", "OIB", "OUB", "PSALDO", "PBUDGET")
ROW_KINDS = {"#TRANS": "TRANS", "#RTRANS": "RTRANS", "#BTRANS": "BTRANS"}
ACCOUNT_TYPES = {"T", "S", "K", "I"}
OBJECTS_AT = {"#OIB": 2, "#OUB": 2, "#PSALDO": 3, "#PBUDGET": 3}

# Records of the specification that are read, and those read but not stored.
KNOWN_LABELS = frozenset(
    {
        "#FLAGGA", "#KSUMMA", "#PROGRAM", "#FORMAT", "#GEN", "#SIETYP", "#PROSA", "#FTYP",
        "#FNR", "#ORGNR", "#BKOD", "#ADRESS", "#FNAMN", "#RAR", "#TAXAR", "#OMFATTN",
        "#KPTYP", "#VALUTA", "#KONTO", "#KTYP", "#ENHET", "#SRU", "#DIM", "#UNDERDIM",
        "#OBJEKT", "#IB", "#UB", "#OIB", "#OUB", "#RES", "#PSALDO", "#PBUDGET", "#VER",
        "#TRANS", "#RTRANS", "#BTRANS",
    }
)  # fmt: skip
SYNTAX = {
    "#TRANS": "#TRANS account {objects} amount [date] [text] [quantity] [sign]",
    "#VER": "#VER series number date [text] [registration date] [sign]",
    "#IB": "#IB year account amount [quantity]",
    "#OIB": "#OIB year account {dimension object} amount [quantity]",
    "#PSALDO": "#PSALDO year period account {objects} amount [quantity]",
    "#RAR": "#RAR year start end",
    "#KONTO": "#KONTO account name",
    "#KTYP": "#KTYP account T|S|K|I",
    "#SRU": "#SRU account code",
    "#DIM": "#DIM dimension name",
    "#UNDERDIM": "#UNDERDIM dimension name parent",
    "#OBJEKT": "#OBJEKT dimension object name",
}
SYNTAX["#RTRANS"] = SYNTAX["#TRANS"].replace("#TRANS", "#RTRANS")
SYNTAX["#BTRANS"] = SYNTAX["#TRANS"].replace("#TRANS", "#BTRANS")
for _kind in ("#UB", "#RES"):
    SYNTAX[_kind] = SYNTAX["#IB"].replace("#IB", _kind)
SYNTAX["#OUB"] = SYNTAX["#OIB"].replace("#OIB", "#OUB")
SYNTAX["#PBUDGET"] = SYNTAX["#PSALDO"].replace("#PSALDO", "#PBUDGET")
MIN_FIELDS = {
    "#TRANS": 3, "#RTRANS": 3, "#BTRANS": 3, "#VER": 3, "#IB": 3, "#UB": 3, "#RES": 3,
    "#OIB": 4, "#OUB": 4, "#PSALDO": 5, "#PBUDGET": 5, "#RAR": 3, "#KONTO": 1, "#KTYP": 2,
    "#SRU": 2, "#DIM": 1, "#UNDERDIM": 3, "#OBJEKT": 2,
}  # fmt: skip


def at(line: int | None) -> str:
    """The place of an error on ``line`` (``line 12``), or ``file``."""
    return f"line {line}" if line else "file"
