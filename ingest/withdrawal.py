"""Taking a loaded file back: ``kson withdraw FILE_ID --reason TEXT``.

A withdrawal is recorded on the file's row in ``raw.load_log`` (``withdrawn_at``,
``withdrawal_reason``); the file's raw rows stay, for lineage. Every dbt staging model reads
its raw table through the ``raw_source`` macro, which leaves out the rows of withdrawn files,
so from the next run on the version loaded before is current again in every later model.
A withdrawal is final: the withdrawn bytes, landed again, are still "already loaded".
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime

import duckdb

from ingest.landing import RAW_SCHEMA, ensure_bookkeeping
from ingest.pii import contains_personnummer
from ingest.validation import printable

MIN_REASON_LETTERS = 3
MAX_REASON_LENGTH = 500


class WithdrawalError(Exception):
    """A withdrawal that cannot be made; the message says why (and holds no cell values)."""


@dataclass(frozen=True)
class Withdrawal:
    file_id: int
    source: str
    landing_path: str
    loaded_at: datetime
    withdrawn_at: datetime
    reason: str


def clean_reason(reason: str) -> str:
    """The reason with its whitespace collapsed, or a ``WithdrawalError`` if it says nothing."""
    text = " ".join(reason.split())
    if sum(c.isalpha() for c in text) < MIN_REASON_LETTERS:
        raise WithdrawalError(
            f"the reason must say why the file is withdrawn, in words "
            f"(at least {MIN_REASON_LETTERS} letters)"
        )
    if len(text) > MAX_REASON_LENGTH:
        raise WithdrawalError(f"the reason is longer than {MAX_REASON_LENGTH} characters")
    if any(unicodedata.category(c).startswith("C") for c in text):
        raise WithdrawalError("the reason holds control characters")
    if contains_personnummer(text):
        raise WithdrawalError("the reason holds a personal identity number: leave it out")
    return text


def withdraw(con: duckdb.DuckDBPyConnection, file_id: int, reason: str) -> Withdrawal:
    """Mark the loaded file ``file_id`` withdrawn (now, for ``reason``) in ``raw.load_log``."""
    text = clean_reason(reason)
    ensure_bookkeeping(con)  # a warehouse from before withdrawals gets the columns
    con.begin()
    try:
        row = con.execute(
            "SELECT source, landing_path, loaded_at, withdrawn_at, withdrawal_reason "
            f"FROM {RAW_SCHEMA}.load_log WHERE file_id = ?",
            [file_id],
        ).fetchone()
        if row is None:
            raise WithdrawalError(f"no loaded file has file_id {file_id} (see raw.load_log)")
        source, landing_path, loaded_at, withdrawn_at, earlier_reason = row
        if withdrawn_at is not None:
            raise WithdrawalError(
                f"file_id {file_id} ({printable(landing_path)}) was already withdrawn at "
                f"{withdrawn_at:%Y-%m-%d %H:%M:%S %Z}: {earlier_reason}"
            )
        [(withdrawn_at,)] = con.execute(
            f"UPDATE {RAW_SCHEMA}.load_log SET withdrawn_at = now(), withdrawal_reason = ? "
            "WHERE file_id = ? RETURNING withdrawn_at",
            [text, file_id],
        ).fetchall()
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return Withdrawal(file_id, source, landing_path, loaded_at, withdrawn_at, text)
