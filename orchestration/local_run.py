"""Runs that ``kson run`` executes in its own process, recorded under the job of the code
location as a run the UI or the daemon launched is, so that the job's run history lists them.

``execute_in_process`` records runs without a code-location origin, which the UI lists under
no job. Here the run is created with the origin of the location that ``make ui`` and ``make
serve`` load (``[tool.dagster]`` in pyproject.toml: module and code location name) and executed
in this process, its steps too (the definitions' in-process executor)."""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from orchestration.locations import REPO_ROOT

if TYPE_CHECKING:
    from dagster import AssetKey, DagsterInstance, DagsterRun, JobDefinition


def code_location() -> tuple[str, str]:
    """(module, code location name) of the Dagster code location, from pyproject.toml."""
    with (REPO_ROOT / "pyproject.toml").open("rb") as file:
        dagster = tomllib.load(file)["tool"]["dagster"]
    return dagster["module_name"], dagster["code_location_name"]


def create_location_run(
    instance: DagsterInstance,
    job_def: JobDefinition,
    run_id: str,
    tags: Mapping[str, str],
    run_config: Mapping[str, object],
    asset_selection: Iterable[AssetKey] | None = None,
) -> DagsterRun:
    """Create run ``run_id`` of ``job_def`` (of ``asset_selection`` only, when given) under
    the code location, to execute in this process with
    ``dagster._core.execution.api.execute_run(InMemoryJob(job_def), run, instance)``: the
    definitions built from this process's environment, not the module's ``defs`` (built when
    the module was first imported). The job's own tags come first, then ``tags``."""
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.definitions.repository_definition.valid_definitions import (
        SINGLETON_REPOSITORY_NAME,
    )
    from dagster._core.remote_origin import RemoteRepositoryOrigin
    from dagster._core.workspace.load import location_origin_from_module_name

    module, location = code_location()
    repository = ReconstructableRepository.for_module(module, "defs", str(REPO_ROOT))
    origin = location_origin_from_module_name(
        module, None, str(REPO_ROOT), location_name=location, executable_path=sys.executable
    )
    return instance.create_run_for_job(
        job_def,
        run_id=run_id,
        run_config=run_config,
        tags={**job_def.run_tags, **tags},
        asset_selection=None if asset_selection is None else set(asset_selection),
        remote_job_origin=RemoteRepositoryOrigin(origin, SINGLETON_REPOSITORY_NAME).get_job_origin(
            job_def.name
        ),
        job_code_origin=repository.get_reconstructable_job(job_def.name).get_python_origin(),
    )
