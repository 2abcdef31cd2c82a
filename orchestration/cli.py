"""The ``kson`` command: ``kson run``, ``kson validate FILE``, ``kson status``,
``kson withdraw FILE_ID --reason TEXT``, ``kson fetch-kolada --kpi IDS --years YEARS``."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import importlib
import json
import logging
import os
import shutil
import sys
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

from orchestration.locations import REPO_ROOT

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from dagster import AssetKey, DagsterInstance, Definitions

    from orchestration.locations import Locations
    from orchestration.planning import Plan
    from orchestration.resources import WarehouseResource


def prepare_environment() -> None:
    """Defaults that must be set before Dagster, dbt or GX are imported."""
    os.environ.setdefault("DAGSTER_HOME", str(REPO_ROOT / ".dagster"))
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():  # the instance config shipped in the repository
        shutil.copyfile(REPO_ROOT / ".dagster" / "dagster.yaml", config)


def run_pipeline(select: list[str] | None = None) -> int:
    """Run what the plan says (orchestration/planning.py), in-process, and print a summary:
    nothing on a quiet night (exit code 0, and why), else the share that new files and
    changes need. With ``select`` (families and marts), a replay: a family read again from the
    archive, a mart rebuilt, each with what is built from it.

    The run holds the build database's lock throughout; when another run holds it, nothing
    is done (exit code 1). Runs that died holding it before are recorded as failed first."""
    started = time.perf_counter()
    from orchestration.locations import Locations
    from orchestration.run_lock import RunInProgress, build_db_lock

    locations = Locations.from_env()
    listed = (name.strip() for item in select or [] for name in item.split(","))
    names = list(dict.fromkeys(name for name in listed if name))
    if select is not None and (unknown := _unknown_names(names)) is not None:
        print(f"kson run: --select {unknown}", file=sys.stderr)
        return 2
    run_id = str(uuid.uuid4())
    try:
        with build_db_lock(locations.build_db, run_id):
            return _plan_and_run(run_id, started, locations, names)
    except RunInProgress as error:
        print(f"kson run: {error}; nothing done", file=sys.stderr)
        return 1


def _unknown_names(names: list[str]) -> str | None:
    """What is wrong with the names of ``kson run --select``, with the valid ones; or None."""
    from ingest.registry import FAMILIES
    from orchestration.resources import prepare_dbt_project

    prepare_dbt_project()
    from orchestration.assets.dbt import mart_keys

    marts = [key.path[-1] for key in mart_keys()]
    unknown = [name for name in names if name not in FAMILIES and name not in marts]
    if names and not unknown:
        return None
    return (
        f"{'unknown: ' + ', '.join(unknown) if unknown else 'needs a name'}; valid are the "
        f"families {', '.join(FAMILIES)} and the marts {', '.join(marts)}"
    )


def _plan_and_run(run_id: str, started: float, locations: Locations, names: list[str]) -> int:
    """Decide what to run (quietly, without Dagster, when there is nothing); run it."""
    import duckdb

    from orchestration.planning import plan_run

    try:
        plan = None if names else plan_run(locations.landing_dir, locations.build_db)
    except duckdb.IOException as error:  # a process outside the lock has it open
        print(
            f"kson run: the build database cannot be read ({error}); nothing done", file=sys.stderr
        )
        return 1
    if plan is not None and plan.quiet:
        return _quiet(plan, locations)

    from dagster import DagsterInstance

    from orchestration.planning import (
        confirm_dbt_project,
        parsed_fingerprint,
        planned_run_config,
        replay_selection,
        selected_assets,
    )
    from orchestration.resources import dbt_project, prepare_dbt_project
    from orchestration.run_lock import close_dead_runs

    instance = DagsterInstance.get()
    for dead in close_dead_runs(instance, locations.build_db, run_id):
        print(f"kson run: run {dead.run_id} had died; recorded as failed")
    prepare_dbt_project()
    from orchestration.definitions import build_definitions

    defs = build_definitions()  # resources from this process's environment
    graph = defs.resolve_job_def("refresh_warehouse").asset_layer.asset_graph
    manifest = json.loads(dbt_project.manifest_path.read_text())
    if plan is None:
        selection, run_config = replay_selection(names, graph)
        print(f"kson run: replay of {', '.join(names)} and what is built from it")
    else:
        if plan.needs_manifest:
            plan.with_manifest(manifest)
            if plan.quiet and plan.last_run and (parsed := parsed_fingerprint()):
                with duckdb.connect(str(locations.build_db)) as con:
                    confirm_dbt_project(con, plan.last_run, parsed)
                return _quiet(plan, locations)
        selection = selected_assets(plan, graph, manifest)
        run_config = planned_run_config(plan, selection)
        print(f"kson run: {plan.reason()}")
    return _run_and_summarize(run_id, started, instance, defs, selection, run_config)


def _quiet(plan: Plan, locations: Locations) -> int:
    """Nothing to do: say why, and what BI reads (unchanged)."""
    import duckdb

    from orchestration.planning import refresh_touched

    if plan.touched:
        with duckdb.connect(str(locations.build_db)) as con:
            refresh_touched(con, plan.touched)
    serving = locations.serving_db
    shown = f"{serving} -> {serving.resolve().name}" if serving.exists() else f"none ({serving})"
    print(f"kson run: {plan.reason()}; serving file unchanged: {shown}")
    return 0


def _run_and_summarize(
    run_id: str,
    started: float,
    instance: DagsterInstance,
    defs: Definitions,
    asset_selection: set[AssetKey] | None = None,
    run_config: Mapping[str, Any] | None = None,
) -> int:
    """Run the job (of ``asset_selection`` only, when given) and print its summary."""
    from dagster import DagsterEventType
    from dagster._core.definitions.job_base import InMemoryJob
    from dagster._core.execution.api import execute_run
    from dagster._core.storage.tags import MAX_RETRIES_TAG

    from ingest.landing import NO_FAMILY
    from orchestration.alerts import alert_run
    from orchestration.assets.publish import PUBLISHED_MARTS
    from orchestration.assets.report import BOARD_REPORT
    from orchestration.local_run import create_location_run
    from orchestration.progress import stage_of, watching
    from orchestration.publishing import publication_status
    from orchestration.report import report_link
    from orchestration.run_lock import BUILD_DB_TAG, build_db_tag
    from orchestration.run_tags import run_tags

    warehouse = defs.resources["warehouse"]
    loaded = time.perf_counter()
    print(f"kson run: landing {warehouse.landing_dir}")
    # Great Expectations takes seconds to import: do it while dbt runs in its subprocess.
    threading.Thread(
        target=importlib.import_module, args=("expectations.runner",), daemon=True
    ).start()
    log_path = warehouse.warehouse_dir / "logs" / "last_run.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # Listed under the job in the UI's run history; not retried by the daemon (whoever ran
    # kson run sees the failure).
    job_def = defs.resolve_job_def("refresh_warehouse")
    run = create_location_run(
        instance,
        job_def,
        run_id,
        tags={
            BUILD_DB_TAG: build_db_tag(warehouse.build_db),
            **run_tags("kson run", warehouse.landing_dir),
            MAX_RETRIES_TAG: "0",
        },
        run_config={
            **(run_config or {}),
            "loggers": {"console": {"config": {"log_level": "WARNING"}}},
        },
        asset_selection=asset_selection,
    )
    # Progress on stdout as the run goes; dbt's own output goes to the log file (and to the
    # run's logs in the UI), not the terminal.
    with (
        watching(instance, run_id, sys.stdout),
        log_path.open("w", encoding="utf-8") as log,
        contextlib.redirect_stdout(log),
    ):
        result = execute_run(InMemoryJob(job_def), run, instance)
    finished = time.perf_counter()

    stage_seconds: dict[str, float] = defaultdict(float)
    step_start: dict[str, float] = {}
    failed_steps: dict[str, str] = {}
    for entry in instance.all_logs(result.run_id):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == DagsterEventType.STEP_START:
            step_start[event.step_key] = entry.timestamp
        elif event.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            stage_seconds[stage_of(event.step_key)] += entry.timestamp - step_start[event.step_key]
            if event.event_type == DagsterEventType.STEP_FAILURE:
                error = event.step_failure_data.error
                cause = error.cause or error if error else None
                failed_steps[event.step_key] = cause.message.strip() if cause else ""

    materialized = result.get_asset_materialization_events()
    checks = result.get_asset_check_evaluations()
    failed_checks = [c for c in checks if not c.passed and c.severity.value == "ERROR"]
    warnings = [c for c in checks if not c.passed and c.severity.value != "ERROR"]  # freshness

    def listed(name: str) -> list[str]:
        """The entries of the ingest assets' metadata list ``name``, once each (escaped)."""
        metadata = [event.materialization.metadata for event in materialized]
        return list(dict.fromkeys(e for m in metadata if name in m for e in m[name].value))

    print(f"\nRun {result.run_id}: {'SUCCESS' if result.success else 'FAILED'}")
    print(f"  assets materialized: {len(materialized)}")
    print(
        f"  checks: {len(checks) - len(failed_checks) - len(warnings)} passed, "
        f"{len(failed_checks)} failed, {len(warnings)} warnings"
    )
    for check in failed_checks + warnings:
        print(
            f"    {'FAILED' if check in failed_checks else 'WARN'} "
            f"{check.asset_key.to_user_string()} / {check.check_name}: {check.description or ''}"
        )
    for step, message in failed_steps.items():
        print(f"    FAILED step {step}: {message}")
        print(f"      details: {log_path}, or the run in the UI")
    for path in listed("quarantined"):
        print(f"  quarantined: {path} (report in {warehouse.file_store.quarantine_dir})")
    for path in listed("unclaimed"):
        print(
            f"  quarantined: {path}: {NO_FAMILY} (report in {warehouse.file_store.quarantine_dir})"
        )
    for line in listed("already_loaded"):
        print(f"  {line}")
    if alert := alert_run(instance, result.run_id, warehouse):  # a failure, or failed checks
        print(f"  summary for a person: {alert.path}; mail {alert.mail}")
    print(
        "  time per stage: "
        + ", ".join(
            [f"start-up {loaded - started:.1f} s"]
            + [f"{stage} {seconds:.1f} s" for stage, seconds in stage_seconds.items()]
            + [f"total {finished - started:.1f} s"]
        )
    )
    serving = Path(warehouse.serving_db)
    if not any(event.asset_key == PUBLISHED_MARTS for event in materialized):
        print(
            "  marts NOT published: no mart was built, or a step before publishing failed "
            f"(details: {log_path}); the serving file is unchanged: {serving}"
        )
        return 1
    marts = publication_status(serving)
    stale = [row for row in marts if row["status"] == "stale"]
    print(
        f"  marts published: {serving} -> {serving.resolve().name} "
        f"({len(marts) - len(stale)} current, {len(stale)} stale)"
    )
    for row in marts:
        print(f"    {_mart_line(row)}")
    if any(event.asset_key == BOARD_REPORT for event in materialized):
        print(f"  board report: {report_link(serving)} -> {report_link(serving).resolve().name}")
    return 0 if result.success and not stale else 1


def _mart_line(row: dict) -> str:
    """A mart's row of ``meta.publication``, for the run summary and ``kson status``."""
    line = f"marts.{row['mart']}: "
    if row["status"] == "current":
        return line + f"{row['row_count']} rows"
    if row["row_count"] is None:
        line += "STALE, never published"
    else:
        line += (
            f"STALE, {row['row_count']} rows kept from run {row['run_id']} "
            f"(published {row['published_at']:%Y-%m-%d %H:%M:%S %Z})"
        )
    return line + f"; {row['reason']}"


def validate_file(path: Path, as_json: bool) -> int:
    """Check one input file against its contract without loading anything. Exit code 0: valid,
    1: rejected, 2: it could not be read, or there is no such file, or no family takes it.
    The file is guessed and read in a worker process (ingest.isolation), like a landing file."""
    from ingest.isolation import ReadFailed, shared_pool, unreadable
    from ingest.landing import hidden_name, sha256_of
    from ingest.pii import RULE_FILE_NAME, contains_personnummer
    from ingest.registry import Inspection, guess_family, inspect
    from ingest.validation import ReadResult, ValidationError, format_report, printable

    named = not contains_personnummer(str(path))  # else shown by its hash, never its name
    if not path.is_file():
        shown = printable(str(path)) if named else "a file whose name holds a personal number"
        print(f"{shown}: no such file", file=sys.stderr)
        return 2
    name = printable(path.name) if named else hidden_name(sha256_of(path))
    source, readable = "unknown", True
    try:
        if not named:
            error = ValidationError(name, "file name", RULE_FILE_NAME, "a name without one")
            found = Inspection(ReadResult(errors=[error]))
        elif (source := shared_pool().run(guess_family, path)) is None:
            print(f"{name}: not a format the platform knows", file=sys.stderr)
            return 2
        else:
            found = shared_pool().run(inspect, path, source)
    except ReadFailed as failure:
        found, readable = Inspection(unreadable(path, failure)), False
    except Exception as error:  # noqa: BLE001 - the platform's failure, said without a traceback
        print(f"{name}: could not be checked: {error}", file=sys.stderr)
        return 2
    result = found.result
    if as_json:
        print(
            json.dumps(
                {
                    "file": name,
                    "source": source,
                    "readable": readable,
                    "valid": result.ok,
                    "rows": result.rows_per_table(),
                    "masked": result.masked,
                    "notes": result.notes,
                    **({"summary": found.summary} if found.summary is not None else {}),
                    "errors": [
                        {"place": e.place, "rule": e.rule, "expected": e.expected}
                        for e in result.errors
                    ],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    elif result.ok:
        rows = ", ".join(f"{table}: {n} rows" for table, n in result.rows_per_table().items())
        print(f"File:   {name}\nSource: {source}\nResult: valid ({rows})")
        _print_masked(result.masked)
        for note in result.notes:
            print(f"Note:   {note}")
    else:
        print(format_report(name, source, result.errors), end="")
        _print_masked(result.masked)
    return 0 if result.ok else 1 if readable else 2


def _print_masked(places: list[str]) -> None:
    """Where a SIE ledger's personal identity numbers were masked (never the numbers)."""
    if places:
        more = f" (and {len(places) - 20} more)" if len(places) > 20 else ""
        print(f"Masked: {len(places)} personal identity number(s): {', '.join(places[:20])}{more}")


def show_status() -> int:
    """Last run, published marts with row counts, quarantined files."""
    import duckdb
    from dagster import DagsterInstance

    from ingest.validation import printable
    from orchestration.publishing import publication_status, published_tables
    from orchestration.resources import WarehouseResource
    from orchestration.run_lock import BUILD_DB_TAG, is_held

    warehouse = WarehouseResource.from_env()
    runs = DagsterInstance.get().get_runs(limit=1)
    if runs:
        run = runs[0]
        state, build_db = run.status.value, run.tags.get(BUILD_DB_TAG)
        if state in ("STARTING", "STARTED") and build_db and not is_held(build_db):
            state = (
                "FAILURE: the process died (the run is recorded as STARTED, but nothing holds "
                "its build database; the next run records it as failed)"
            )
        print(f"Last run: {run.run_id} {run.job_name} {state}")
    else:
        print("Last run: none")
    serving = Path(warehouse.serving_db)
    if marts := publication_status(serving):
        stale = sum(row["status"] == "stale" for row in marts)
        print(f"Published marts ({serving} -> {serving.resolve().name}, {stale} stale):")
        for row in marts:
            print(f"  {_mart_line(row)}")
    elif published := published_tables(serving):  # a serving file of before per-mart status
        print(f"Published marts ({serving}):")
        for table, rows in published.items():
            print(f"  marts.{table}: {rows} rows")
    else:
        print(f"Published marts: none yet ({serving})")
    try:
        with warehouse.connect_build(read_only=True) as con:
            # The log keeps every quarantine event; a landing path's latest one is shown.
            quarantined = con.execute(
                "SELECT landing_path, error_count, first_error, report_path "
                "FROM raw.quarantine_log QUALIFY row_number() OVER "
                "(PARTITION BY landing_path ORDER BY quarantined_at DESC) = 1 "
                "ORDER BY quarantined_at, landing_path"
            ).fetchall()
    except duckdb.Error:
        quarantined = []
    print(f"Quarantined files: {len(quarantined)}")
    for landing_path, count, first, report in quarantined:
        print(f"  {printable(landing_path)}: {count} error(s), first: {first}")
        print(f"    report: {warehouse.file_store.quarantine_dir / report}")
    _show_withdrawn(warehouse)
    _show_freshness(warehouse)
    return 0


def _show_withdrawn(warehouse: WarehouseResource) -> None:
    import duckdb

    from ingest.validation import printable

    try:
        with warehouse.connect_build(read_only=True) as con:
            withdrawn = con.execute(
                "SELECT file_id, landing_path, withdrawn_at, withdrawal_reason FROM raw.load_log "
                "WHERE withdrawn_at IS NOT NULL ORDER BY withdrawn_at"
            ).fetchall()
    except duckdb.Error:  # no build database yet, or one from before withdrawals
        withdrawn = []
    print(f"Withdrawn files: {len(withdrawn)}")
    for file_id, landing_path, at, reason in withdrawn:
        print(f"  file_id {file_id} {printable(landing_path)}: {at:%Y-%m-%d %H:%M}, {reason}")


def _show_freshness(warehouse: WarehouseResource) -> None:
    """When each family's next file is due, as of today (a warning, never a gate)."""
    import duckdb

    from ingest.freshness import assess_all, local_today

    today = local_today()
    try:
        with warehouse.connect_build(read_only=True) as con:
            families = assess_all(con, today)
    except duckdb.Error as error:  # no build database yet, or a run holds it
        print(f"Freshness: unknown, the build database cannot be read ({type(error).__name__})")
        return
    overdue = sum(family.overdue for family in families)
    print(f"Freshness (as of {today}, {overdue} overdue):")
    for family in families:
        print(f"  {family.family}: {family.describe()}")


def withdraw_file(file_id: int, reason: str) -> int:
    """Take a loaded file back: from the next run on, the version before it is current."""
    from ingest.validation import printable
    from ingest.withdrawal import WithdrawalError
    from orchestration import withdrawal
    from orchestration.resources import WarehouseResource

    try:
        done = withdrawal.withdraw_file(
            WarehouseResource.from_env(), file_id, reason, f"kson withdraw (pid {os.getpid()})"
        )
    except WithdrawalError as error:
        print(f"kson withdraw: not withdrawn: {error}", file=sys.stderr)
        return 1
    print(
        f"Withdrawn: file_id {done.file_id} ({done.source}, {printable(done.landing_path)}, "
        f"loaded {done.loaded_at:%Y-%m-%d %H:%M:%S %Z})\n"
        f"  at {done.withdrawn_at:%Y-%m-%d %H:%M:%S %Z}, reason: {done.reason}\n"
        "  Its raw rows stay; from the next `kson run` on, the version before it is current."
    )
    return 0


def fetch_kolada(
    kpi: str, years: str, municipality: str | None, metadata: bool, groups: bool
) -> int:
    """Fetch fresh Kolada responses into the landing folder's kolada/ (ingest.kolada_api).
    Exit code 0: written; 2: nothing written (bad arguments, no network, an error answer)."""
    from ingest import kolada_api
    from orchestration.resources import WarehouseResource

    try:
        client = kolada_api.Client(kolada_api.base_url_from_env())
        planned = kolada_api.calls(
            kolada_api.ids(kpi, "kpi"),
            kolada_api.ids(years, "years"),
            None if municipality is None else kolada_api.ids(municipality, "municipality"),
            metadata,
            groups,
        )
        landing = Path(WarehouseResource.from_env().landing_dir)
        print(f"kson fetch-kolada: {len(planned)} call(s) to {client.base_url}")
        written = kolada_api.fetch(client, planned, landing)
    except kolada_api.Unreachable as error:
        print(f"kson fetch-kolada: {error}: no network? nothing written", file=sys.stderr)
        return 2
    except (kolada_api.FetchError, OSError) as error:
        print(f"kson fetch-kolada: {error}; nothing written", file=sys.stderr)
        return 2
    print(f"Written: {len(written)} file(s) into {landing / kolada_api.SOURCE}")
    for path in written:
        print(f"  {path.name}")
    return 0


def show_report() -> int:
    """The path of the board report (the link to the newest); exit code 1 when there is none."""
    from orchestration.publishing import publication_id
    from orchestration.report import report_link, report_publication
    from orchestration.resources import WarehouseResource

    serving = Path(WarehouseResource.from_env().serving_db)
    link = report_link(serving)
    if not link.exists():
        print(
            f"kson report: no report yet ({link} does not exist); `kson run` writes one after "
            "it publishes the marts",
            file=sys.stderr,
        )
        return 1
    print(link)
    written = report_publication(serving, link.resolve())
    if serving.exists() and written != (published := publication_id(serving, serving.resolve())):
        print(
            f"kson report: the report is of publication {written}, the serving file of "
            f"{published} (the last report step failed: see the run's log)",
            file=sys.stderr,
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kson", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run",
        help="run what new files and changes need (nothing on a quiet night), in-process, and "
        "summarise",
    )
    run.add_argument(
        "--select",
        action="append",
        metavar="FAMILY_OR_MART",
        help="replay: read a family again from the archive, or rebuild a mart, and rebuild what "
        "is built from it (repeatable, or a comma-separated list)",
    )
    validate = commands.add_parser("validate", help="check one input file against its contract")
    validate.add_argument("file", type=Path)
    validate.add_argument("--json", action="store_true", help="machine-readable output")
    commands.add_parser("status", help="last run, published marts, quarantined files")
    commands.add_parser("report", help="print the path of the board report (HTML)")
    withdraw = commands.add_parser(
        "withdraw", help="take a loaded file back (its rows leave the marts at the next run)"
    )
    withdraw.add_argument("file_id", type=int, help="the file's file_id in raw.load_log")
    withdraw.add_argument("--reason", required=True, help="why, in words (kept in the load log)")
    fetch = commands.add_parser(
        "fetch-kolada", help="fetch fresh Kolada responses into the landing folder (network)"
    )
    fetch.add_argument("--kpi", required=True, help="KPI ids, comma-separated: U21468,N21006")
    fetch.add_argument("--years", required=True, help="years, comma-separated: 2021,2022")
    scope = fetch.add_mutually_exclusive_group()
    scope.add_argument(
        "--municipality", default="0188", help="municipality or group ids (default 0188)"
    )
    scope.add_argument(
        "--all-municipalities",
        dest="municipality",
        action="store_const",
        const=None,
        help="all municipalities (/v3/data/kpi/{ids}/year/{years})",
    )
    fetch.add_argument(
        "--metadata", action="store_true", help="also the KPIs' and the municipalities' metadata"
    )
    fetch.add_argument(
        "--groups", action="store_true", help="also the municipality groups and their members"
    )
    args = parser.parse_args(argv)
    prepare_environment()
    if args.command == "run":
        return run_pipeline(args.select)
    if args.command == "validate":
        return validate_file(args.file, args.json)
    if args.command == "withdraw":
        return withdraw_file(args.file_id, args.reason)
    if args.command == "report":
        return show_report()
    if args.command == "fetch-kolada":
        return fetch_kolada(args.kpi, args.years, args.municipality, args.metadata, args.groups)
    return show_status()


def script() -> None:
    """The ``kson`` command: ``main``, then the exit handlers (the reader pool's), the logs and
    the output flushed, and an exit without Python's teardown of the interpreter, which takes
    ~2 s after a run (Dagster's, dbt's and polars' modules) with nothing left to do."""
    code = main()
    atexit._run_exitfuncs()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    script()
