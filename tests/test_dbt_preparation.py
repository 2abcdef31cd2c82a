"""The dbt manifest is prepared (parsed only when the project changed), not parsed at import;
and dbt is run without `dbt --version` per invocation."""

import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from dagster_dbt import DbtCliResource, DbtProject

from orchestration.assets import dbt as dbt_assets_module
from orchestration.locations import REPO_ROOT
from orchestration.resources import (
    DBT_EXECUTABLE,
    DBT_PROJECT_DIR,
    VenvDbtCliResource,
    dbt_project,
    prepare_dbt_project,
)
from orchestration.resources import dbt_preparer as preparer


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    """A copy of the dbt project with no manifest yet, as in a fresh clone."""
    root = tmp_path_factory.mktemp("dbt") / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, root, ignore=shutil.ignore_patterns("target", "logs"))
    return DbtProject(project_dir=root, profiles_dir=root)


def test_the_manifest_is_parsed_only_when_a_project_file_changed(project, monkeypatch):
    monkeypatch.setattr(dbt_assets_module, "dbt_project", project)
    monkeypatch.delenv("DAGSTER_IS_DEV_CLI", raising=False)
    with pytest.raises(FileNotFoundError, match="no dbt manifest yet; run `make prepare`"):
        dbt_assets_module.prepared_manifest()  # loading the definitions never parses

    preparer.prepare(project)
    parsed = project.manifest_path.stat().st_mtime_ns
    assert preparer.is_current(project)
    preparer.prepare(project)
    assert project.manifest_path.stat().st_mtime_ns == parsed  # nothing changed: no parse

    model = next(project.project_dir.glob("models/marts/**/*.sql"))
    model.write_text(model.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert not preparer.is_current(project)
    with pytest.warns(UserWarning, match="older than the dbt project; run `make prepare`"):
        assert dbt_assets_module.prepared_manifest() == project.manifest_path
    assert project.manifest_path.stat().st_mtime_ns == parsed

    # Under `dagster dev` (make ui) loading the definitions prepares the project.
    monkeypatch.setenv("DAGSTER_IS_DEV_CLI", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dbt_assets_module.prepared_manifest()
    assert project.manifest_path.stat().st_mtime_ns != parsed
    assert preparer.is_current(project)


def invocations(project: DbtProject, resource: type[DbtCliResource], tmp_path: Path) -> list[str]:
    """The command lines of every dbt process the resource starts for one `dbt debug`."""
    log = tmp_path / f"{resource.__name__}.log"
    wrapper = tmp_path / f"dbt-{resource.__name__}"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {DBT_EXECUTABLE} "$@"\n')
    wrapper.chmod(0o755)
    dbt = resource(project_dir=project, dbt_executable=str(wrapper))
    dbt.cli(["debug", "--config-dir"], target_path=project.target_path).wait()
    return log.read_text().splitlines()


def test_dbt_runs_without_asking_for_its_version(project, tmp_path):
    """VenvDbtCliResource overrides dagster-dbt's private ``_cli_version`` (no public way): if
    dagster-dbt renames it or asks for the version another way, this fails."""
    assert "_cli_version" in vars(DbtCliResource)
    assert invocations(project, VenvDbtCliResource, tmp_path) == ["debug --config-dir"]
    # Without the override, dagster-dbt runs `dbt --version` first (~3.5 s).
    assert invocations(project, DbtCliResource, tmp_path) == ["--version", "debug --config-dir"]


def test_dbt_runs_without_loading_dbt_in_this_process(project):
    """VenvDbtCliResource overrides dagster-dbt's private ``_initialize_dbt_core_adapter``: without
    it, dagster-dbt loads dbt's project, profile and adapter in the orchestrating process on
    every invocation (~2 s), for metadata the platform does not take from it."""
    assert "_initialize_dbt_core_adapter" in vars(DbtCliResource)
    script = (
        "import sys\n"
        "from dagster_dbt import DbtProject\n"
        "from orchestration.resources import DBT_EXECUTABLE, VenvDbtCliResource\n"
        "project = DbtProject(project_dir=sys.argv[1], profiles_dir=sys.argv[1])\n"
        "dbt = VenvDbtCliResource(project_dir=project, dbt_executable=str(DBT_EXECUTABLE))\n"
        "debug = dbt.cli(['debug', '--config-dir'], target_path=project.target_path)\n"
        "assert debug.is_successful()\n"
        "loaded = ('dbt.config.', 'dbt.adapters.duckdb')\n"
        "print(sorted(m for m in sys.modules if m.startswith(loaded)))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script, str(project.project_dir)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    ).stdout.splitlines()[-1]
    assert loaded == "[]"


def test_dbt_can_reuse_its_partial_parse():
    """dbt reads its saved parse back with msgpack's strict map keys: a key that is not a
    string (a YAML flow mapping cut at a comma: ``{description: 1 for…; 2, 3, …}``) makes
    every run parse the whole project again (~2 s), silently."""
    import msgpack

    prepare_dbt_project()
    saved = (
        dbt_project.project_dir / dbt_project.target_path / "partial_parse.msgpack"
    ).read_bytes()
    msgpack.unpackb(saved, raw=False, strict_map_key=True)
