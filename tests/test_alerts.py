"""Failures reach a person (orchestration/alerts.py): real failed runs on ephemeral Dagster
instances, the real sensors evaluated for them, mail through a local SMTP server."""

import hashlib
import shutil
import socket
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    DagsterInstance,
    Definitions,
    MaterializeResult,
    asset,
    asset_check,
    build_run_status_sensor_context,
    define_asset_job,
)
from pii_forms import FORMS

from conftest import SAMPLE_DIR, Workspace
from orchestration.alerts import MailSettings, checks_failed_alert, run_failure_alert
from orchestration.assets.ingest import ingest_assets
from orchestration.assets.publish import PUBLISHED_MARTS
from orchestration.definitions import build_definitions

PII_NAME = "lista_19121212-1212.txt"  # no family takes it: quarantined, shown by its hash


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory: pytest.TempPathFactory):
    """The refresh job's two ingest steps for Kolada and unclaimed files, where the archived
    copy of one Kolada file cannot be written (a folder stands at its place): (workspace,
    instance, result). The unclaimed step quarantines two stray files."""
    root = tmp_path_factory.mktemp("failed")
    workspace = Workspace(landing=root / "landing", warehouse=root / "warehouse")
    shutil.copytree(SAMPLE_DIR / "kolada", workspace.landing / "kolada")
    (workspace.landing / "notes.txt").write_text("not data\n")
    (workspace.landing / PII_NAME).write_text("not data\n")
    first = sorted((workspace.landing / "kolada").iterdir())[0]
    sha = hashlib.sha256(first.read_bytes()).hexdigest()
    (workspace.warehouse / "archive" / "kolada" / f"{sha}.json").mkdir(parents=True)
    with pytest.MonkeyPatch.context() as monkeypatch:
        point_at(workspace, monkeypatch)
        job = build_definitions().resolve_job_def("refresh_warehouse")
        selection = [
            key
            for assets in ingest_assets
            if assets.node_def.name in {"ingest_kolada", "ingest_unclaimed"}
            for key in assets.keys
        ]
        instance = DagsterInstance.ephemeral()
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            asset_selection=selection,
            tags={"dagster/sensor_name": "landing_sensor"},
        )
    assert not result.success
    return workspace, instance, result, first


def point_at(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KSON_LANDING_DIR", str(workspace.landing))
    monkeypatch.setenv("KSON_WAREHOUSE", str(workspace.serving_db))
    monkeypatch.delenv("KSON_BUILD_DB", raising=False)
    for variable in ("HOST", "PORT", "FROM", "USER", "PASSWORD", "STARTTLS"):
        monkeypatch.delenv(f"KSON_SMTP_{variable}", raising=False)
    monkeypatch.delenv("KSON_ALERT_TO", raising=False)
    monkeypatch.delenv("KSON_UI_URL", raising=False)


def evaluate(sensor, instance: DagsterInstance, result) -> str:  # noqa: ANN001
    """The sensor's evaluation for the run (as the daemon would), its skip message."""
    event = result.get_run_failure_event() if not result.success else result.get_run_success_event()
    context = build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_event=event,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
    )
    return sensor(context).skip_message


@pytest.fixture
def fresh_logs(failed_run, monkeypatch: pytest.MonkeyPatch):
    """The failed run, the environment pointing at its workspace, and no summary written yet."""
    workspace, instance, result, first = failed_run
    shutil.rmtree(workspace.warehouse / "logs", ignore_errors=True)
    point_at(workspace, monkeypatch)
    return failed_run


def summaries(workspace: Workspace) -> list[Path]:
    return sorted((workspace.warehouse / "logs" / "failures").glob("*.txt"))


class Inbox:
    def __init__(self) -> None:
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001, N802
        self.envelopes.append(envelope)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, inbox
    finally:
        controller.stop()


def test_a_failed_run_leaves_a_summary_naming_step_file_and_what_to_do(
    fresh_logs, smtp_server, monkeypatch: pytest.MonkeyPatch
):
    workspace, instance, result, first = fresh_logs
    _, inbox = smtp_server
    monkeypatch.setenv("KSON_UI_URL", "http://127.0.0.1:3000/")

    said = evaluate(run_failure_alert, instance, result)

    [path] = summaries(workspace)
    assert path.name.endswith(f"-{result.run_id}.txt") and str(path) in said
    text = path.read_text()
    assert text.startswith(f"KSON: run {result.run_id[:8]} of refresh_warehouse FAILED")
    assert f"Run:      {result.run_id}\n" in text
    assert "Trigger:  sensor landing_sensor; tags: dagster/sensor_name=landing_sensor" in text
    assert "Failed steps:\n  ingest_kolada: IsADirectoryError: [Errno 21] Is a directory" in text
    assert f"Files concerned:\n  {first} (landing file; loading its copy failed)\n" in text
    assert "Quarantined files (normal operation, not the failure;" in text
    assert f"  {workspace.landing / 'notes.txt'}\n" not in text  # listed by landing path
    assert "  notes.txt\n" in text and "[file sha256 " in text
    assert f"http://127.0.0.1:3000/runs/{result.run_id}\n" in text
    assert str(workspace.warehouse / "logs" / "last_run.log") in text and "`kson run`" in text
    assert text.endswith("Mail: off (KSON_SMTP_HOST is not set)\n")
    assert not inbox.envelopes  # SMTP unset: no mail attempted
    assert not any(form in text for form in FORMS)
    [line] = (workspace.warehouse / "logs" / "failures.log").read_text().splitlines()
    assert f"FAILED (ingest_kolada) | {path.name} | mail: off" in line

    # One summary per run, however often it is asked for (kson run and the daemon both may).
    assert "nothing for a person" in evaluate(run_failure_alert, instance, result)
    assert summaries(workspace) == [path]


def test_the_daemon_leaves_a_run_of_another_warehouse_to_its_own_process(
    fresh_logs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    workspace, instance, result, _ = fresh_logs
    monkeypatch.setenv("KSON_WAREHOUSE", str(tmp_path / "kson.duckdb"))

    said = evaluate(run_failure_alert, instance, result)

    other = workspace.build_db.resolve()
    assert said == f"run {result.run_id} wrote another warehouse ({other}), not this one"
    assert not summaries(workspace) and not (tmp_path / "logs").exists()


def test_the_summary_is_mailed_when_smtp_is_configured(
    fresh_logs, smtp_server, monkeypatch: pytest.MonkeyPatch
):
    workspace, instance, result, _ = fresh_logs
    port, inbox = smtp_server
    monkeypatch.setenv("KSON_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("KSON_SMTP_PORT", str(port))
    monkeypatch.setenv("KSON_SMTP_FROM", "kson@kson.example")
    monkeypatch.setenv("KSON_ALERT_TO", "ops@kson.example, data@kson.example")

    evaluate(run_failure_alert, instance, result)

    [envelope] = inbox.envelopes
    assert envelope.mail_from == "kson@kson.example"
    assert envelope.rcpt_tos == ["ops@kson.example", "data@kson.example"]
    mail = envelope.content.decode()
    assert f"Subject: KSON: run {result.run_id[:8]} of refresh_warehouse FAILED" in mail
    assert f"Run:      {result.run_id}" in mail and "ingest_kolada: IsADirectoryError" in mail
    [path] = summaries(workspace)
    assert path.read_text().endswith("Mail: sent to ops@kson.example, data@kson.example\n")


@pytest.mark.parametrize(
    ("settings", "said"),
    [
        ({"KSON_SMTP_PORT": "unreachable"}, "NOT sent to 127.0.0.1:"),
        ({"KSON_ALERT_TO": ""}, "NOT sent: KSON_SMTP_HOST is set but KSON_ALERT_TO"),
        ({"KSON_SMTP_PORT": "smtp"}, "NOT sent: KSON_SMTP_PORT='smtp' is not a port number"),
    ],
)
def test_a_mail_that_cannot_go_is_recorded_and_the_sensor_goes_on(
    fresh_logs, monkeypatch: pytest.MonkeyPatch, settings: dict, said: str
):
    workspace, instance, result, _ = fresh_logs
    monkeypatch.setenv("KSON_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("KSON_ALERT_TO", "ops@kson.example")
    for variable, value in settings.items():
        monkeypatch.setenv(variable, str(free_port()) if value == "unreachable" else value)

    assert "mail NOT sent" in evaluate(run_failure_alert, instance, result)

    [path] = summaries(workspace)
    mail_line = path.read_text().splitlines()[-1]
    assert mail_line.startswith(f"Mail: {said}")
    if "unreachable" in settings.values():
        assert "Connection refused" in mail_line
    log = (workspace.warehouse / "logs" / "failures.log").read_text()
    assert f"mail: {said}" in log


def test_mail_settings_name_the_wrong_variable(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("KSON_SMTP_HOST", "smtp.kson.example")
    monkeypatch.setenv("KSON_ALERT_TO", "ops@kson.example")
    monkeypatch.setenv("KSON_SMTP_STARTTLS", "maybe")
    with pytest.raises(ValueError, match="KSON_SMTP_STARTTLS='maybe' is neither true nor false"):
        MailSettings.from_env()
    monkeypatch.setenv("KSON_SMTP_STARTTLS", "yes")
    settings = MailSettings.from_env()
    assert (settings.port, settings.starttls, settings.recipients) == (
        25,
        True,
        ("ops@kson.example",),
    )
    monkeypatch.delenv("KSON_SMTP_HOST")
    assert MailSettings.from_env() is None


# A run that succeeds but leaves marts stale: a failed error-severity check. The publish step
# of the refresh job is stood in for by an asset on its key with the metadata it records.
@asset(key=AssetKey(["marts", "tiny"]))
def tiny() -> None:
    pass


@asset_check(asset=tiny)
def tiny_rows(context) -> AssetCheckResult:  # noqa: ANN001
    failing = context.run.tags.get("fail") == "yes"
    return AssetCheckResult(
        passed=not failing,
        severity=AssetCheckSeverity.ERROR,
        description="3 rows where 0 were expected\nsecond line",
    )


@asset_check(asset=tiny)
def tiny_warning() -> AssetCheckResult:
    """Fails in every run: a warning needs no person."""
    return AssetCheckResult(passed=False, severity=AssetCheckSeverity.WARN)


@asset(key=PUBLISHED_MARTS, deps=[tiny])
def published(context) -> MaterializeResult:  # noqa: ANN001
    failing = context.run.tags.get("fail") == "yes"
    stale = {"tiny": "failed: marts/tiny:tiny_rows"} if failing else {}
    return MaterializeResult(metadata={"stale": stale})


def run_tiny(fail: bool):
    job = define_asset_job("tiny_refresh")
    defs = Definitions(assets=[tiny, published], asset_checks=[tiny_rows, tiny_warning], jobs=[job])
    instance = DagsterInstance.ephemeral()
    result = defs.resolve_job_def("tiny_refresh").execute_in_process(
        instance=instance, tags={"fail": "yes" if fail else "no"}
    )
    assert result.success
    return instance, result


def test_a_successful_run_whose_checks_failed_needs_a_person_too(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
):
    point_at(workspace, monkeypatch)
    instance, result = run_tiny(fail=False)
    assert "nothing for a person" in evaluate(checks_failed_alert, instance, result)
    assert not summaries(workspace)

    instance, result = run_tiny(fail=True)
    evaluate(checks_failed_alert, instance, result)
    [path] = summaries(workspace)
    text = path.read_text()
    assert text.startswith(
        f"KSON: run {result.run_id[:8]} of tiny_refresh succeeded, but 1 check(s) failed "
        "(1 mart(s) stale)\n"
    )
    assert "Failed checks:\n  marts/tiny:tiny_rows: 3 rows where 0 were expected\n" in text
    assert "Stale marts (each keeps its last published version):\n" in text
    assert "  marts.tiny: failed: marts/tiny:tiny_rows\n" in text
    assert "tiny_warning" not in text
    assert "Failed steps" not in text and "Files concerned" not in text


def test_a_path_with_a_personal_identity_number_is_shown_by_its_hash(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
):
    """A failing step whose error names such a file (no reader puts one there today)."""
    point_at(workspace, monkeypatch)
    named = workspace.landing / "visit_logs" / "visits_19121212-1212.csv"
    named.parent.mkdir(parents=True)
    named.write_text("personnummer\n")

    @asset
    def opens_it() -> None:
        raise OSError(f"cannot open '{named}': permission denied")

    defs = Definitions(assets=[opens_it], jobs=[define_asset_job("opener")])
    instance = DagsterInstance.ephemeral()
    result = defs.resolve_job_def("opener").execute_in_process(
        instance=instance, raise_on_error=False
    )
    evaluate(run_failure_alert, instance, result)

    [path] = summaries(workspace)
    text = path.read_text()
    shown = f"{workspace.landing}/visit_logs/[file sha256 "
    assert f"opens_it: OSError: cannot open '{shown}" in text
    assert f"Files concerned:\n  {shown}" in text
    assert not any(form in text for form in FORMS)
