"""`make serve`'s pair (orchestration/serve.py: dagster-webserver and dagster-daemon) on
127.0.0.1: the landing sensor's runs, seen through the webserver's GraphQL endpoint."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import duckdb
import pytest

from conftest import REPO_ROOT, Workspace, make_workspace, refetch_kolada_share

FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}
RUNS = """{ runsOrError(filter: {pipelineName: "refresh_warehouse"}) {
  ... on Runs { results { runId status tags { key value } } } } }"""
SURVEY_RESULTS = """{ assetOrError(assetKey: {path: ["marts", "survey_results"]}) {
  ... on Asset { assetMaterializations(limit: 1) { runId timestamp } } } }"""


class Server:
    def __init__(self, process: subprocess.Popen, port: int, log: Path) -> None:
        self.process, self.port, self.log = process, port, log

    def graphql(self, query: str) -> dict:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/graphql",
            data=json.dumps({"query": query}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            body = json.load(response)
        assert "errors" not in body, body["errors"]
        return body["data"]

    def wait_for(self, what: str, probe, timeout: float = 400):
        """``probe()``'s first true value, polled; fails with the log's tail when the pair
        exited or ``timeout`` seconds passed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"serve exited before {what}:\n{self.tail()}"
            value = probe()
            if value:
                return value
            time.sleep(2)
        pytest.fail(f"no {what} after {timeout} s:\n{self.tail()}")

    def finished_run(self, after: set[str]) -> dict | None:
        runs = self.graphql(RUNS)["runsOrError"]["results"]
        return next(
            (run for run in runs if run["runId"] not in after and run["status"] in FINISHED),
            None,
        )

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])


def session_processes(session: int) -> list[str]:
    """The live (not zombie) processes of a session: pid and command."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # ended meanwhile
            continue
        if int(fields[3]) == session and fields[0] != "Z":
            found.append(f"{stat.parent.name} {command}")
    return found


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """`python -m orchestration.serve` (what `make serve` runs) on a free port, with a new
    DAGSTER_HOME, the Kolada sample landed and the sensor ticking every 5 s; everything it
    started is killed afterwards whatever happened."""
    workspace = make_workspace(tmp_path, monkeypatch, ("kolada",))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "KSON_SENSOR_INTERVAL_SECONDS": "5",
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestration.serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield workspace, Server(process, port, log)
    finally:
        if process.poll() is None:
            process.kill()
        for line in session_processes(process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(line.split()[0]), signal.SIGKILL)
        process.wait()


def test_the_sensor_runs_a_landed_file_and_the_mart_changes(served: tuple[Workspace, Server]):
    workspace, server = served

    def webserver_up() -> bool:
        try:
            return bool(server.graphql("{ version }")["version"])
        except (urllib.error.URLError, ConnectionError):
            return False

    server.wait_for("webserver", webserver_up, timeout=240)
    # the sensor's first tick finds the landing folder non-empty
    first = server.wait_for("first run", lambda: server.finished_run(after=set()))
    assert first["status"] == "SUCCESS", server.tail()
    assert {"key": "dagster/sensor_name", "value": "landing_sensor"} in first["tags"]
    [before] = server.graphql(SURVEY_RESULTS)["assetOrError"]["assetMaterializations"]
    assert before["runId"] == first["runId"]

    # A Kolada page fetched again with one share changed (90 -> 93)
    refetch_kolada_share(workspace.landing)

    second = server.wait_for("run of the new file", lambda: server.finished_run({first["runId"]}))
    assert second["status"] == "SUCCESS", server.tail()
    assert {"key": "dagster/sensor_name", "value": "landing_sensor"} in second["tags"]
    [after] = server.graphql(SURVEY_RESULTS)["assetOrError"]["assetMaterializations"]
    assert after["runId"] == second["runId"]
    assert int(after["timestamp"]) > int(before["timestamp"])
    with duckdb.connect(str(workspace.serving_db), read_only=True) as con:
        [(share,)] = con.execute(
            "SELECT share_pct FROM marts.survey_results WHERE year = 2023 AND municipality_id "
            "= '0188' AND service = 'hemtjanst' AND question_id = 'helhetssyn'"
        ).fetchall()
    assert float(share) == 93.0  # published: what BI reads

    # SIGTERM (as Ctrl-C) stops both, and everything they started
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=60) == 0
    assert session_processes(server.process.pid) == []


def test_the_workspace_loads_the_definitions_as_location_kson():
    """What the webserver and the daemon load (both started in the repository root)."""
    from dagster._core.workspace.load import location_origins_from_yaml_paths

    from orchestration.serve import WORKSPACE, command

    [origin] = location_origins_from_yaml_paths([str(WORKSPACE)])
    target = origin.loadable_target_origin
    assert (origin.location_name, target.module_name) == ("kson", "orchestration.definitions")
    assert Path(REPO_ROOT, target.executable_path).resolve() == Path(sys.executable).resolve()
    assert command("webserver", 3917)[1:] == ["-h", "127.0.0.1", "-p", "3917", "-w", str(WORKSPACE)]
