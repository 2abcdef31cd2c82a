"""Taking a loaded file back from the Dagster UI: the job ``withdraw_file`` (run config
``file_id`` and ``reason``), and the function it shares with ``kson withdraw``."""

from pathlib import Path

import duckdb
from dagster import AssetMaterialization, AssetSpec, Config, Failure, OpExecutionContext, job, op
from pydantic import Field

from ingest.validation import printable
from ingest.withdrawal import Withdrawal, WithdrawalError, withdraw
from orchestration.asset_catalog import catalog
from orchestration.resources import WarehouseResource
from orchestration.run_lock import RunInProgress, build_db_lock

load_log = AssetSpec(
    ["raw", "load_log"],
    **catalog("raw"),
    description="One row per accepted landing file (written by the ingest assets); a "
    "withdrawn file's row says when and why, and no staging model reads its rows. "
    "Materialized here by the job withdraw_file.",
    kinds={"duckdb"},
)


def withdraw_file(
    warehouse: WarehouseResource, file_id: int, reason: str, run_id: str
) -> Withdrawal:
    """Withdraw ``file_id`` in the build database, holding its lock as ``run_id`` (a Dagster
    run's warehouse resource holds it already); ``WithdrawalError`` says why not."""
    if not Path(warehouse.build_db).exists():
        raise WithdrawalError(f"no build database at {warehouse.build_db}: nothing was loaded")
    try:
        with build_db_lock(warehouse.build_db, run_id):
            try:
                con = warehouse.connect_build()
            except duckdb.IOException as error:  # a process outside the lock has it open
                raise WithdrawalError(
                    f"the build database {warehouse.build_db} is in use by another process: "
                    "try again when it has closed it"
                ) from error
            with con:
                return withdraw(con, file_id, reason)
    except RunInProgress as error:
        raise WithdrawalError(f"{error}: try again when it has finished") from None


class WithdrawalConfig(Config):
    file_id: int = Field(description="The file's file_id in raw.load_log.")
    reason: str = Field(description="Why it is withdrawn, in words (kept in raw.load_log).")


@op(description="Withdraw one loaded file: from the next run on, its rows leave every model.")
def withdraw_loaded_file(
    context: OpExecutionContext, config: WithdrawalConfig, warehouse: WarehouseResource
) -> None:
    try:
        done = withdraw_file(warehouse, config.file_id, config.reason, context.run_id)
    except WithdrawalError as error:
        raise Failure(description=f"Not withdrawn: {error}", allow_retries=False) from None
    context.log_event(
        AssetMaterialization(
            asset_key=load_log.key,
            description=f"file_id {done.file_id} withdrawn",
            metadata={
                "file_id": done.file_id,
                "source": done.source,
                "landing_path": printable(done.landing_path),
                "withdrawn_at": done.withdrawn_at.isoformat(),
                "reason": done.reason,
            },
        )
    )
    context.log.info(
        f"Withdrew file_id {done.file_id} ({printable(done.landing_path)}): the version "
        "before it is current again after the next refresh_warehouse run."
    )


@job(
    name="withdraw_file",
    description="Take a loaded file back (what `kson withdraw` does): run config file_id and "
    "reason. Its raw rows stay; the next refresh_warehouse run makes the version before it "
    "current again.",
)
def withdraw_job() -> None:
    withdraw_loaded_file()
