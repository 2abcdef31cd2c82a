"""``make serve``: Dagster's production pair, dagster-webserver and dagster-daemon.

    python -m orchestration.serve [--port PORT] [webserver | daemon]

Both load ``workspace.yaml`` (code location ``kson``) and the instance in ``DAGSTER_HOME``,
prepared as ``kson run`` prepares it (the repository's ``.dagster/`` unless set; the shipped
``dagster.yaml`` copied into one that has none); the dbt project is parsed first if it changed
(the definitions load its manifest). The webserver listens on 127.0.0.1 only, on ``--port``
(default: ``UI_PORT``, else 3000).

With a name, this process becomes that one (what each systemd unit in ``deploy/`` runs).
Without, both start, each in its own process group, and stop together: Ctrl-C or SIGTERM
stops both, and when one exits the other is stopped (exit code 1). Stopping sends SIGTERM to
each group — the process, its code server and any run in progress — and SIGKILL to what is
left of them after ``STOP_TIMEOUT_SECONDS``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from orchestration.cli import prepare_environment
from orchestration.locations import REPO_ROOT

HOST = "127.0.0.1"
WORKSPACE = REPO_ROOT / "workspace.yaml"
STOP_TIMEOUT_SECONDS = 30


def command(name: str, port: int) -> list[str]:
    """The command line of ``webserver`` or ``daemon``: this environment's console scripts."""
    bin_dir = Path(sys.executable).parent
    if name == "webserver":
        webserver = str(bin_dir / "dagster-webserver")
        return [webserver, "-h", HOST, "-p", str(port), "-w", str(WORKSPACE)]
    return [str(bin_dir / "dagster-daemon"), "run", "-w", str(WORKSPACE)]


def prepare() -> None:
    """``DAGSTER_HOME`` as ``kson run`` prepares it, its storage created, the dbt manifest
    current: one process at a time (the webserver and the daemon starting together on a new
    ``DAGSTER_HOME`` would both create its databases, and one would fail)."""
    # Imported outside the lock (the two import at once); nothing runs dbt or GX before exec.
    from dagster import DagsterInstance

    from orchestration.resources import prepare_dbt_project

    with WORKSPACE.open("rb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        prepare_environment()
        with DagsterInstance.get():
            pass
        prepare_dbt_project()


def become(name: str, port: int) -> NoReturn:
    """Prepare, then replace this process with ``name``."""
    prepare()
    os.chdir(REPO_ROOT)  # workspace.yaml's paths are relative to it
    argv = command(name, port)
    os.execv(argv[0], argv)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve_both(port: int) -> int:
    """Run the webserver and the daemon until Ctrl-C, SIGTERM or one of them exits."""
    signal.signal(signal.SIGINT, _interrupt)  # also where it was inherited ignored
    signal.signal(signal.SIGTERM, _interrupt)
    processes: dict[str, subprocess.Popen] = {}
    try:
        for name in ("webserver", "daemon"):
            processes[name] = subprocess.Popen(
                [sys.executable, "-m", "orchestration.serve", "--port", str(port), name],
                stdin=subprocess.DEVNULL,
                process_group=0,  # the terminal's Ctrl-C reaches this process only
            )
        print(
            f"Dagster UI on http://{HOST}:{port}; Ctrl-C stops the webserver and the daemon",
            flush=True,
        )
        while all(process.poll() is None for process in processes.values()):
            time.sleep(1)
        name, exited = next((n, p) for n, p in processes.items() if p.returncode is not None)
        print(
            f"serve: the {name} exited with code {exited.returncode}; stopping the other",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(list(processes.values()))


def _stop(processes: Sequence[subprocess.Popen]) -> None:
    """SIGTERM to each process group, SIGKILL to what is left of them after the timeout."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C does not cut this short
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _signal_groups(processes, signal.SIGTERM)
    if not _groups_ended(processes, STOP_TIMEOUT_SECONDS):
        _signal_groups(processes, signal.SIGKILL)
        _groups_ended(processes, 5)


def _signal_groups(processes: Sequence[subprocess.Popen], signum: int) -> None:
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)


def _groups_ended(processes: Sequence[subprocess.Popen], timeout: float) -> bool:
    """Whether every process of the groups has ended within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        alive = False
        for process in processes:
            process.poll()  # reaped, the leader no longer counts
            try:
                os.killpg(process.pid, 0)
                alive = True
            except ProcessLookupError:
                pass
        if not alive or time.monotonic() > deadline:
            return not alive
        time.sleep(0.2)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.serve", description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("UI_PORT") or 3000))
    parser.add_argument("name", nargs="?", choices=("webserver", "daemon"))
    args = parser.parse_args(argv)
    if args.name:
        become(args.name, args.port)
    return serve_both(args.port)


if __name__ == "__main__":
    sys.exit(main())
