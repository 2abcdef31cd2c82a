"""Shared fixtures: a private landing folder and warehouse per test, and pipeline runs."""

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


def make_workspace(
    root: Path, monkeypatch: pytest.MonkeyPatch, sources: tuple[str, ...]
) -> Workspace:
    landing = root / "landing"
    for source in sources:
        shutil.copytree(SAMPLE_DIR / source, landing / source)
    workspace = Workspace(landing=landing, warehouse=root / "warehouse")
    monkeypatch.setenv("KSON_LANDING_DIR", str(landing))
    monkeypatch.setenv("KSON_WAREHOUSE", str(workspace.serving_db))
    monkeypatch.delenv("KSON_BUILD_DB", raising=False)
    return workspace


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A landing folder holding the bundled Kolada sample and an empty warehouse."""
    return make_workspace(tmp_path, monkeypatch, ("kolada",))


def run_refresh():
    """Run the nightly job in-process, as `kson run` does, on an ephemeral Dagster instance."""
    from dagster import DagsterInstance

    from orchestration.definitions import build_definitions

    job = build_definitions().resolve_job_def("refresh_warehouse")
    return job.execute_in_process(instance=DagsterInstance.ephemeral(), raise_on_error=False)
