"""Shared fixtures: a private landing folder and warehouse per test, and pipeline runs."""

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO_ROOT / "data" / "sample"
SHARED_DIR = REPO_ROOT.parent / "shared"

os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


def pytest_configure(config: pytest.Config) -> None:
    """Prepare the dbt manifest before test modules import the definitions (as `kson run`
    does): dbt parses only when a project file has changed."""
    from orchestration.resources import prepare_dbt_project

    prepare_dbt_project()


@dataclass
class Workspace:
    landing: Path
    warehouse: Path

    @property
    def serving_db(self) -> Path:
        return self.warehouse / "kson.duckdb"

    @property
    def build_db(self) -> Path:
        return self.warehouse / "kson_build.duckdb"


def refetch_kolada_share(landing: Path) -> None:
    """Land the Kolada sample's second hemtjänst page as if fetched again, with its last
    share (gender T) changed from 90 to 93: a new file (``*_refetched.json``) that changes
    marts.survey_results."""
    page = landing / "kolada" / "data_hemtjanst_0188_2020-2023_page2.json"
    document = json.loads(page.read_text("utf-8"))
    cell = document["values"][-1]["values"][-1]
    assert (cell["gender"], cell["value"]) == ("T", 90)
    cell["value"] = 93
    page.with_name(f"{page.stem}_refetched.json").write_text(json.dumps(document), "utf-8")


PROVIDER_SOURCES = ("provider_reports", "visit_logs", "contract_followup", "action_plans")
LEDGER_SOURCES = ("sie", "health_care_volumes", "budget")
TEST_SCALE = 0.01  # small, and still reproduces the calibrated figures of seed 004


def make_workspace(
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    sources: tuple[str, ...],
    provider_sample: Path | None = None,
) -> Workspace:
    """A landing folder with the given sources (Kolada from data/sample, provider families
    from ``provider_sample``) and an empty warehouse; the environment points at both."""
    landing = root / "landing"
    for source in sources:
        origin = provider_sample if source in PROVIDER_SOURCES else SAMPLE_DIR
        assert origin is not None, f"{source} needs the provider_sample fixture"
        shutil.copytree(origin / source, landing / source)
    workspace = Workspace(landing=landing, warehouse=root / "warehouse")
    monkeypatch.setenv("KSON_LANDING_DIR", str(landing))
    monkeypatch.setenv("KSON_WAREHOUSE", str(workspace.serving_db))
    monkeypatch.delenv("KSON_BUILD_DB", raising=False)
    return workspace


@pytest.fixture(scope="session")
def provider_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Provider sample data for 2022-2024 at the test scale, generated once per session."""
    from sample_data.providers import generate

    out = tmp_path_factory.mktemp("provider_sample")
    generate(out, scale=TEST_SCALE)
    return out


@pytest.fixture(scope="session")
def ledger_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Sample SIE ledgers for 2021-2024 at the test scale, generated once per session."""
    from sample_data.ledgers import generate

    out = tmp_path_factory.mktemp("ledger_sample")
    generate(out, scale=TEST_SCALE)
    return out


@pytest.fixture(scope="session")
def full_run_instance(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """The Dagster instance that ``full_run`` runs on, for tests that read its records as the
    UI does (the UI's GraphQL needs one on disk, not an ephemeral one)."""
    from dagster import DagsterInstance

    instance = DagsterInstance.local_temp(
        str(tmp_path_factory.mktemp("dagster_home")), overrides={"telemetry": {"enabled": False}}
    )
    yield instance
    instance.dispose()


@pytest.fixture(scope="session")
def full_run(
    tmp_path_factory: pytest.TempPathFactory,
    provider_sample: Path,
    ledger_sample: Path,
    full_run_instance,  # noqa: ANN001
) -> tuple[Workspace, object]:
    """One run of the nightly job on every source family (Kolada, the providers' and the
    ledgers' samples), for the tests that only read its warehouse: (workspace, result)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        workspace = make_workspace(
            tmp_path_factory.mktemp("full"),
            monkeypatch,
            ("kolada", "manual_indicators", *PROVIDER_SOURCES),
            provider_sample,
        )
        for source in LEDGER_SOURCES:
            shutil.copytree(ledger_sample / source, workspace.landing / source)
        return workspace, run_refresh(full_run_instance)


@pytest.fixture(scope="session")
def shared_reference() -> Path:
    """``../shared/reference``: real files from elsewhere, beside the checkout in CI. In a
    clone alone the tests that need it skip, saying so."""
    reference = SHARED_DIR / "reference"
    if not reference.is_dir():
        pytest.skip(f"needs {reference} (real reference files), which is not beside this clone")
    return reference


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A landing folder holding the bundled Kolada sample and an empty warehouse."""
    return make_workspace(tmp_path, monkeypatch, ("kolada",))


def stale_marts(workspace: Workspace) -> dict[str, str]:
    """Marts of the serving file that are not ``current``, with the reason (none after a good
    run: a failed check fails no step, so ``result.success`` alone does not say it)."""
    from orchestration.publishing import publication_status

    rows = publication_status(workspace.serving_db)
    assert rows, f"nothing published in {workspace.serving_db}"
    return {row["mart"]: row["reason"] for row in rows if row["status"] != "current"}


def run_refresh(instance=None):  # noqa: ANN001, ANN201
    """Run the nightly job in-process, as `kson run` does, on ``instance`` (by default an
    ephemeral Dagster instance)."""
    from dagster import DagsterInstance

    from orchestration.definitions import build_definitions

    job = build_definitions().resolve_job_def("refresh_warehouse")
    return job.execute_in_process(
        instance=instance or DagsterInstance.ephemeral(), raise_on_error=False
    )
