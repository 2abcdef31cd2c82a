"""Failures reach a person: a short summary of a run that needs one, and a mail.

A run needs a person when it failed, or when it succeeded but an error-severity check failed
(the publish step then keeps the marts concerned at their last version: stale). For such a
run ``alert_run`` writes ``<warehouse dir>/logs/failures/<UTC time>-<run id>.txt`` (the run,
its trigger, the failed steps and checks, the stale marts, the files concerned, what to do),
appends one line to ``logs/failures.log`` and, when ``KSON_SMTP_HOST`` is set, mails the
summary to ``KSON_ALERT_TO``. A failed mail is recorded in both files and never raises.

The daemon calls it from two sensors (``run_failure_alert``, ``checks_failed_alert``); ``kson
run`` calls it for its in-process run. One summary per run: a second call writes nothing.

| variable             | default            | what                                             |
|----------------------|--------------------|--------------------------------------------------|
| KSON_UI_URL          | (none)             | the Dagster UI's address, for a link to the run  |
| KSON_SMTP_HOST       | (none: no mail)    | SMTP server                                      |
| KSON_SMTP_PORT       | 25                 | its port                                         |
| KSON_SMTP_STARTTLS   | false              | STARTTLS before sending (true/false)             |
| KSON_SMTP_USER       | (none)             | login, with KSON_SMTP_PASSWORD                   |
| KSON_SMTP_FROM       | kson@<host name>   | the sender                                       |
| KSON_ALERT_TO        | (none)             | recipients, comma-separated (needed with a host) |
"""

from __future__ import annotations

import os
import re
import smtplib
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from dagster import (
    AssetCheckSeverity,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunStatusSensorContext,
    SkipReason,
    run_failure_sensor,
    run_status_sensor,
)

from ingest.landing import sha256_of, shown_path
from ingest.pii import contains_personnummer, mask_personnummer
from ingest.registry import FAMILIES
from ingest.validation import printable
from orchestration.assets.publish import PUBLISHED_MARTS
from orchestration.resources import WarehouseResource
from orchestration.run_lock import BUILD_DB_TAG, build_db_tag
from orchestration.run_tags import TRIGGER_TAG

SMTP_TIMEOUT_SECONDS = 10
# Run tags that say what started a run (Dagster's) or where it wrote (the platform's, kson/*).
TRIGGER_TAGS = (
    "dagster/schedule_name",
    "dagster/sensor_name",
    "dagster/backfill",
    "dagster/parent_run_id",
)
_EVENTS = {
    DagsterEventType.STEP_FAILURE,
    DagsterEventType.RUN_FAILURE,
    DagsterEventType.ASSET_CHECK_EVALUATION,
    DagsterEventType.ASSET_MATERIALIZATION,
}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"", "0", "false", "no", "off"}


@dataclass(frozen=True)
class MailSettings:
    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    user: str | None
    password: str | None
    starttls: bool

    @classmethod
    def from_env(cls) -> MailSettings | None:
        """None when ``KSON_SMTP_HOST`` is unset (mail is off); ValueError naming the variable
        when a setting is wrong."""
        host = os.environ.get("KSON_SMTP_HOST", "").strip()
        if not host:
            return None
        port = os.environ.get("KSON_SMTP_PORT", "").strip() or "25"
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"KSON_SMTP_PORT={port!r} is not a port number")
        recipients = tuple(
            address.strip()
            for address in os.environ.get("KSON_ALERT_TO", "").split(",")
            if address.strip()
        )
        if not recipients:
            raise ValueError("KSON_SMTP_HOST is set but KSON_ALERT_TO (whom to mail) is not")
        starttls = os.environ.get("KSON_SMTP_STARTTLS", "").strip().lower()
        if starttls not in _TRUE | _FALSE:
            raise ValueError(f"KSON_SMTP_STARTTLS={starttls!r} is neither true nor false")
        return cls(
            host=host,
            port=int(port),
            sender=os.environ.get("KSON_SMTP_FROM", "").strip() or f"kson@{socket.getfqdn()}",
            recipients=recipients,
            user=os.environ.get("KSON_SMTP_USER") or None,
            password=os.environ.get("KSON_SMTP_PASSWORD") or None,
            starttls=starttls in _TRUE,
        )


@dataclass(frozen=True)
class Alert:
    path: Path  # the summary file
    mail: str  # what became of the mail, in words


def alert_run(instance: DagsterInstance, run_id: str, warehouse: WarehouseResource) -> Alert | None:
    """Write (and mail) the summary of a run that needs a person; None when it does not, or
    when its summary was written before."""
    logs = warehouse.warehouse_dir / "logs"
    folder = logs / "failures"
    if any(folder.glob(f"*-{run_id}.txt")):
        return None
    summary = _summarize(instance, run_id, warehouse)
    if summary is None:
        return None
    subject, body = summary
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    path = folder / f"{now:%Y%m%dT%H%M%SZ}-{run_id}.txt"
    path.write_text(f"{subject}\n\n{body}", encoding="utf-8")
    mail = _send(subject, f"{body}\nThis summary: {path}\n")
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"\nMail: {mail}\n")
    with (logs / "failures.log").open("a", encoding="utf-8") as handle:
        handle.write(f"{now:%Y-%m-%dT%H:%M:%SZ} {subject} | {path.name} | mail: {mail}\n")
    return Alert(path, mail)


def _summarize(
    instance: DagsterInstance, run_id: str, warehouse: WarehouseResource
) -> tuple[str, str] | None:
    """(subject, body) of a run that needs a person, else None."""
    record = instance.get_run_record_by_id(run_id)
    if record is None:
        return None
    run = record.dagster_run
    failed_steps: list[tuple[str, list[str]]] = []  # (step, its error's messages: _messages)
    run_failure: str | None = None
    failed_checks: list[str] = []
    stale: dict[str, str] = {}
    quarantined: list[str] = []
    for entry in instance.all_logs(run_id, of_type=_EVENTS):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == DagsterEventType.STEP_FAILURE:
            failed_steps.append((event.step_key or "?", _messages(event.step_failure_data.error)))
        elif event.event_type == DagsterEventType.RUN_FAILURE:
            error = event.job_failure_data.error
            run_failure = _messages(error)[0] if error else event.message
        elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            check = event.asset_check_evaluation_data
            if not check.passed and check.severity == AssetCheckSeverity.ERROR:
                failed_checks.append(
                    f"{check.asset_check_key.to_user_string()}: {_first_line(check.description)}"
                )
        else:
            materialization = event.step_materialization_data.materialization
            metadata = {key: value.value for key, value in materialization.metadata.items()}
            if materialization.asset_key == PUBLISHED_MARTS:
                stale = dict(metadata.get("stale") or {})
            for key in ("quarantined", "unclaimed"):
                quarantined += metadata.get(key) or []
    if run.status != DagsterRunStatus.FAILURE and not failed_checks:
        return None

    places = _Places(warehouse)
    lines = [
        f"Run:      {run_id}",
        f"Job:      {run.job_name}",
        f"Trigger:  {_trigger(run.tags)}",
        f"Started:  {_utc(record.start_time)}, ended {_utc(record.end_time)}",
    ]
    files: list[str] = []
    if failed_steps:
        lines += ["", "Failed steps:"]
    for step, messages in failed_steps:
        for message in messages:
            files += places.files_named(message)
        lines.append(f"  {step}: {places.shown(_first_line(messages[0] if messages else ''))}")
    if run_failure and not failed_steps:
        files += places.files_named(run_failure)
        lines += ["", f"Run failure: {places.shown(_first_line(run_failure))}"]
    if failed_checks:
        lines += ["", "Failed checks:", *(f"  {places.shown(check)}" for check in failed_checks)]
    if stale:
        lines += ["", "Stale marts (each keeps its last published version):"]
        lines += [f"  marts.{mart}: {_first_line(reason)}" for mart, reason in stale.items()]
    if files := list(dict.fromkeys(files)):
        lines += ["", "Files concerned:", *(f"  {file}" for file in files)]
    if quarantined := list(dict.fromkeys(quarantined)):
        lines += [
            "",
            f"Quarantined files (normal operation, not the failure; reports in "
            f"{warehouse.file_store.quarantine_dir}):",
            *(f"  {printable(path)}" for path in quarantined),
        ]
    ui_url = os.environ.get("KSON_UI_URL", "").strip().rstrip("/")
    lines += [
        "",
        "What to do:",
        f"  1. Open the run in the Dagster UI: {ui_url}/runs/{run_id}"
        if ui_url
        else f"  1. Open the run in the Dagster UI (make serve or make ui): Runs, run {run_id}",
        f"  2. Read {warehouse.warehouse_dir / 'logs' / 'last_run.log'} (the last `kson run`'s "
        "log and dbt's output) or the step's log in the UI.",
        "  3. Fix the cause: a wrong file, correct it and land it again in "
        f"{warehouse.landing_dir}; a failed check, the data or the check. Then run `kson run` "
        "(or let the landing sensor or the nightly schedule run).",
    ]
    if run.status == DagsterRunStatus.FAILURE:
        first = failed_steps[0][0] if failed_steps else "the run"
        subject = f"KSON: run {run_id[:8]} of {run.job_name} FAILED ({first})"
    else:
        subject = (
            f"KSON: run {run_id[:8]} of {run.job_name} succeeded, but {len(failed_checks)} "
            f"check(s) failed ({len(stale)} mart(s) stale)"
        )
    # No personal identity number leaves in a message, wherever it came from.
    return mask_personnummer(subject)[0], mask_personnummer("\n".join(lines) + "\n")[0]


class _Places:
    """Paths under the landing folder or the warehouse folder named in a message; one whose
    name holds a personal identity number is shown by the file's hash."""

    def __init__(self, warehouse: WarehouseResource) -> None:
        self.landing = Path(warehouse.landing_dir)
        self.roots = (self.landing, warehouse.warehouse_dir)
        self.incoming = warehouse.file_store.archive_dir / ".incoming"
        # Up to a quote or the line's end; what exists decides where an unquoted path ends.
        self._pattern = re.compile(
            "|".join(f"{re.escape(str(root))}/[^'\"\\n]*" for root in self.roots)
        )

    def files_named(self, text: str) -> list[str]:
        """The files ``text`` names that exist, and for a snapshot being loaded (gone with its
        load) the landing file it copies; not folders."""
        files = []
        for match in self._pattern.finditer(text):
            path = _path_at(match, text)[0]
            if landed := self._landing_file(path):
                files.append(f"{self._show(landed)} (landing file; loading its copy failed)")
            elif path.is_file():
                files.append(self._show(path))
        return files

    def shown(self, text: str) -> str:
        """``text`` for one line, each path in it shown as ``files_named`` shows it."""

        def show(match: re.Match[str]) -> str:
            path, rest = _path_at(match, text)
            return self._show(path) + rest

        return printable(self._pattern.sub(show, text))

    def _landing_file(self, snapshot: Path) -> Path | None:
        """The landing file of a snapshot ``.incoming/<family>-<random>/<index>/<name>``."""
        if snapshot.parent.parent.parent != self.incoming or not snapshot.parent.name.isdigit():
            return None
        family = FAMILIES.get(snapshot.parent.parent.name.rsplit("-", 1)[0])
        landed = family.landing_files(self.landing) if family else []
        index = int(snapshot.parent.name)
        if index < len(landed) and landed[index].name == snapshot.name:
            return landed[index]
        return None

    def _show(self, path: Path) -> str:
        if not contains_personnummer(str(path)):
            return printable(str(path))
        root = next((root for root in self.roots if path.is_relative_to(root)), None)
        if root is None or not path.is_file():
            return printable(mask_personnummer(str(path))[0])
        relative = path.relative_to(root).as_posix()
        return printable(f"{root}/{shown_path(relative, sha256_of(path), relative.split('/')[0])}")


def _path_at(match: re.Match[str], text: str) -> tuple[Path, str]:
    """The path a match of ``_Places`` starts with, and what follows it in the match. A quoted
    path is the whole match; else the longest prefix ending before a space, colon or comma
    that exists, or else the match up to its first space."""
    found = match.group(0)
    if text[match.end() : match.end() + 1] in {"'", '"'}:
        return Path(found), ""
    cuts = [m.start() for m in re.finditer(r"[ :,]", found)]
    for cut in [len(found), *reversed(cuts)]:
        head = found[:cut].rstrip(".;)")
        if Path(head).exists():
            return Path(head), found[len(head) :]
    head = found[: cuts[0] if cuts else len(found)].rstrip(".;)")
    return Path(head), found[len(head) :]


def _messages(error) -> list[str]:  # noqa: ANN001 - a SerializableErrorInfo
    """The messages of an error and of the errors it was raised from or while handling,
    the first raised (the root cause) first."""
    messages = []
    while error is not None:
        messages.insert(0, error.message)
        error = error.cause or error.context
    return messages


def _first_line(text: str | None) -> str:
    line = next((line.strip() for line in (text or "").splitlines() if line.strip()), "")
    return line if len(line) <= 300 else line[:297] + "..."


def _trigger(tags: dict[str, str]) -> str:
    shown = [f"{key}={value}" for key, value in sorted(tags.items()) if key in TRIGGER_TAGS]
    shown += [f"{key}={value}" for key, value in sorted(tags.items()) if key.startswith("kson/")]
    if "dagster/schedule_name" in tags:
        what = f"schedule {tags['dagster/schedule_name']}"
    elif "dagster/sensor_name" in tags:
        what = f"sensor {tags['dagster/sensor_name']}"
    else:  # kson run, the UI (the platform's tag), or the Dagster CLI
        what = tags.get(TRIGGER_TAG, "by hand")
    if "dagster/parent_run_id" in tags:
        what += f", a retry of run {tags['dagster/parent_run_id']}"
    return printable(f"{what}; tags: {', '.join(shown)}" if shown else what)


def _utc(timestamp: float | None) -> str:
    if timestamp is None:
        return "?"
    return f"{datetime.fromtimestamp(timestamp, UTC):%Y-%m-%d %H:%M:%S} UTC"


def _send(subject: str, body: str) -> str:
    """Mail the summary when SMTP is configured; what happened, in words (never raises)."""
    try:
        settings = MailSettings.from_env()
    except ValueError as error:
        return f"NOT sent: {error}"
    if settings is None:
        return "off (KSON_SMTP_HOST is not set)"
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    message.set_content(body)
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
            if settings.starttls:
                smtp.starttls()
            if settings.user:
                smtp.login(settings.user, settings.password or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        reason = printable(str(error)) or type(error).__name__
        return f"NOT sent to {settings.host}:{settings.port}: {reason}"
    return f"sent to {', '.join(settings.recipients)}"


@run_failure_sensor(
    name="run_failure_alert",
    description="Writes a summary of each failed run to warehouse/logs/failures/ and mails it "
    "when SMTP is configured (KSON_SMTP_HOST, KSON_ALERT_TO).",
    default_status=DefaultSensorStatus.RUNNING,
)
def run_failure_alert(context: RunFailureSensorContext) -> SkipReason:
    return _alerted(context)


@run_status_sensor(
    run_status=DagsterRunStatus.SUCCESS,
    name="checks_failed_alert",
    description="Writes and mails the same summary for a run that succeeded but whose "
    "error-severity checks failed (the marts concerned stay at their last published version).",
    default_status=DefaultSensorStatus.RUNNING,
)
def checks_failed_alert(context: RunStatusSensorContext) -> SkipReason:
    return _alerted(context)


def _alerted(context: RunStatusSensorContext) -> SkipReason:
    run_id = context.dagster_run.run_id
    warehouse = WarehouseResource.from_env()
    tagged = context.dagster_run.tags.get(BUILD_DB_TAG)
    if tagged and tagged != build_db_tag(warehouse.build_db):
        # E.g. a `kson run` on another warehouse sharing the instance: it wrote its own.
        return SkipReason(f"run {run_id} wrote another warehouse ({tagged}), not this one")
    alert = alert_run(context.instance, run_id, warehouse)
    if alert is None:
        return SkipReason(f"run {run_id}: nothing for a person (or already written)")
    return SkipReason(f"run {run_id}: summary in {alert.path}; mail {alert.mail}")
