"""Airflow components as child processes: started, watched and stopped, leaving nothing behind.

One harness for everything that runs Airflow for real on a developer's machine: ``make distributed-demo``
(:mod:`recruitment_devkit.distributed`: API server, scheduler, DAG processor, triggerer, Celery workers)
and the browser test of the UI (``tests/system/test_ui.py``: API server and DAG processor).

Each component is ``python -m airflow ARGS`` with this interpreter, the leader of its own session and
process group, its output in ``<logs>/<name>.log``. :meth:`Processes.stop` interrupts each one (SIGINT:
its own graceful shutdown, a Celery worker finishes the task it runs), then SIGTERM and SIGKILL to each
process group, and finally checks with ``ps`` that no process of any of its sessions is left (those that
are, are killed and returned, for the caller to report).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


class ProcessExited(RuntimeError):
    """A component exited while it should be running; the message holds the end of its log."""


def free_port(avoid: Iterable[int] = ()) -> int:
    """A TCP port free on 127.0.0.1 now, not one of ``avoid`` (ports other local set-ups use)."""
    avoid = set(avoid)
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in avoid:
            return port
    raise RuntimeError(f"no free TCP port on 127.0.0.1 outside {sorted(avoid)}")


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log, or why there are none."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        return f"(cannot read {path}: {exc})"
    return "\n".join(text[-lines:])


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path

    def running(self) -> bool:
        return self.popen.poll() is None


class Processes:
    """The Airflow components of one run, each the leader of its own session and process group.

    ``sessions`` collects the session id of every process started (pass a list to keep it, e.g. in a
    report); ``error`` is the exception :meth:`check_alive` raises, so a caller gets its own kind.
    """

    def __init__(
        self,
        logs: Path,
        env: dict[str, str] | None = None,
        sessions: list[int] | None = None,
        *,
        cwd: Path | None = None,
        error: type[Exception] = ProcessExited,
    ) -> None:
        self.logs = logs
        self.env = env or {}
        self.cwd = cwd or logs
        self.error = error
        self.running: list[Process] = []
        self.sessions: list[int] = sessions if sessions is not None else []

    def start(self, name: str, args: list[str], extra_env: dict[str, str] | None = None) -> Process:
        """``python -m airflow ARGS`` in a new session, output appended to ``<logs>/<name>.log``."""
        log = self.logs / f"{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(  # noqa: S603 - our own interpreter running Airflow
                [sys.executable, "-m", "airflow", *args],
                env={**self.env, **(extra_env or {})},
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = Process(name, popen, log)
        self.running.append(process)
        self.sessions.append(popen.pid)
        return process

    def check_alive(self) -> None:
        """Raise ``error`` naming the first component that has exited, with the end of its log."""
        for p in self.running:
            code = p.popen.poll()
            if code is not None:
                raise self.error(
                    f"`airflow {p.name}` exited with code {code}; the end of {p.log}:\n{tail(p.log)}"
                )

    def diagnostics(self, lines: int = 40) -> str:
        """The end of every component's log, for a failure message."""
        return "\n".join(f"--- {p.name} ({p.log}):\n{tail(p.log, lines)}" for p in self.running)

    def members(self) -> list[tuple[int, str]]:
        """Every live process in one of our sessions (``ps``): (pid, command)."""
        if not self.sessions:
            return []
        out = subprocess.run(
            ["ps", "-eo", "pid=,sid=,stat=,args="],  # noqa: S607 - ps from PATH
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        found = []
        for line in out.splitlines():
            parts = line.split(None, 3)
            if len(parts) < 3:
                continue
            pid, sid, stat = int(parts[0]), int(parts[1]), parts[2]
            if sid in self.sessions and not stat.startswith("Z") and pid != os.getpid():
                found.append((pid, parts[3] if len(parts) > 3 else ""))
        return found

    def stop(self, timeout: float) -> tuple[dict[str, str], list[str]]:
        """SIGINT to each process (its own graceful shutdown: a Celery worker finishes the task it runs),
        then SIGTERM and SIGKILL to each process group, ``timeout`` seconds apart. Then every process of
        our sessions (``ps``) must be gone within ``timeout``: the ones that are not are returned (and
        killed). Returns how each component ended, and those left over."""
        how: dict[str, str] = {}
        pending = []
        for p in self.running:
            if p.popen.poll() is None:
                pending.append(p)
            else:
                how[p.name] = f"had exited with {p.popen.returncode}"
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            if not pending:
                break
            pending = self._signal(pending, sig, timeout, how)
        left = self._reap_members(timeout)
        self.running.clear()
        return how, [f"{pid} {command}" for pid, command in left]

    @staticmethod
    def _signal(pending: list, sig: signal.Signals, timeout: float, how: dict[str, str]) -> list:
        """Send ``sig`` to each pending component (SIGINT to the process, others to its group), wait up
        to ``timeout`` for them, note in ``how`` how each that ended did; returns those still running."""
        for p in pending:
            with contextlib.suppress(ProcessLookupError, PermissionError):  # gone meanwhile
                if sig == signal.SIGINT:
                    p.popen.send_signal(sig)
                else:
                    os.killpg(p.popen.pid, sig)
        deadline = time.monotonic() + timeout
        still = []
        for p in pending:
            try:
                p.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
                how[p.name] = f"{sig.name}, exit {p.popen.returncode}"
            except subprocess.TimeoutExpired:
                still.append(p)
        return still

    def _reap_members(self, timeout: float) -> list[tuple[int, str]]:
        """Wait up to ``timeout`` for every process of our sessions to be gone; kill and return the rest."""
        deadline = time.monotonic() + timeout
        while (left := self.members()) and time.monotonic() < deadline:
            time.sleep(0.5)
        for pid, _ in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):  # gone meanwhile
                os.kill(pid, signal.SIGKILL)
        return left
