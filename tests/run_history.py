"""What the Dagster UI lists as a job's runs: its GraphQL API (the webserver's schema, run
in-process) over the code location that ``make ui`` and ``make serve`` load."""

import sys
from pathlib import Path

from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster_graphql.test.utils import execute_dagster_graphql

from orchestration.local_run import code_location
from orchestration.locations import REPO_ROOT

JOB_RUNS = """
query JobRuns($selector: PipelineSelector!) {
  pipelineOrError(params: $selector) {
    __typename
    ... on Pipeline {
      runs {
        runId
        status
        repositoryOrigin { repositoryLocationName repositoryName }
        tags { key value }
      }
    }
  }
}
"""


def job_runs(dagster_home: Path, job_name: str = "refresh_warehouse") -> list[dict]:
    """The runs the UI shows on the job's Runs tab, newest first (runId, status,
    repositoryOrigin, tags as a dict)."""
    module, location = code_location()
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(
            executable_path=sys.executable, module_name=module, working_directory=str(REPO_ROOT)
        ),
        location_name=location,
    )
    with (
        DagsterInstance.from_ref(InstanceRef.from_dir(str(dagster_home))) as instance,
        WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origin)) as workspace,
    ):
        selector = {
            "repositoryLocationName": location,
            "repositoryName": "__repository__",
            "pipelineName": job_name,
        }
        answer = execute_dagster_graphql(
            workspace.create_request_context(), JOB_RUNS, {"selector": selector}
        ).data["pipelineOrError"]
    assert answer["__typename"] == "Pipeline", answer
    return [
        {**run, "tags": {tag["key"]: tag["value"] for tag in run["tags"]}} for run in answer["runs"]
    ]
