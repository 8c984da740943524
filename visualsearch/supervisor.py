"""Keep a few long-running programs up (what ``manage.py serve`` runs: the dramatiq worker and
gunicorn), each in its own process group.

- A program that exits while the supervisor runs is restarted after a delay that doubles from
  ``backoff_first`` up to ``backoff_max`` for each exit in a row; a program that had run for
  ``stable_after`` seconds before it exited starts again from ``backoff_first``. What is left of
  its process group (say dramatiq's worker processes when its main process was killed) is
  stopped first. The other programs keep running meanwhile.
- A program whose *first* start exits within ``startup_grace`` seconds failed to start (a port
  in use, a bad setting, a broken install): restarting cannot help, so everything is stopped and
  :meth:`Supervisor.run` returns 1.
- :meth:`Supervisor.stop` (from a signal handler: Ctrl-C, SIGTERM) stops everything: SIGTERM to
  each group, SIGKILL after ``stop_timeout`` seconds; :meth:`Supervisor.run` then returns 0.
- A supervisor that is itself killed (SIGKILL, the OOM killer), so that it cannot stop them,
  takes its programs with it on Linux: each gets SIGTERM when the thread that started it dies
  (``PR_SET_PDEATHSIG``), so no orphaned worker or web server keeps the port and the queue.

Pure process handling: no Django.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass
class Program:
    """``args`` run as one child; ``on_restart`` (optional) is run once, beside it, each time it
    is restarted (not at its first start), e.g. ``reconcile`` to re-send what a dead worker
    held."""

    name: str
    args: Sequence[str]
    on_restart: Sequence[str] | None = None


@dataclass
class Restart:
    """One unexpected exit, as the supervisor saw it."""

    name: str
    returncode: int
    ran: float  # seconds the program had run
    delay: float  # seconds until it is started again


@dataclass
class _Child:
    program: Program
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    up: bool = False  # ran for startup_grace once: a later exit is a crash, not a failed start
    exits_in_a_row: int = 0
    restart_at: float | None = None


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _dies_with(parent: int) -> Callable[[], None] | None:
    """A ``preexec_fn``: the child gets SIGTERM when its parent dies, and stops at once if the
    parent died before the request took effect. None off Linux. ``prctl`` is looked up here, in
    the parent, so the forked child only calls it."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def setup() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)

    return setup


def exit_reason(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


@dataclass
class Supervisor:
    programs: Sequence[Program]
    log: Callable[[str], None] = print
    startup_grace: float = 15.0
    backoff_first: float = 1.0
    backoff_max: float = 30.0
    stable_after: float = 60.0
    stop_timeout: float = 20.0
    poll_interval: float = 0.25
    restarts: list[Restart] = field(default_factory=list, init=False)  # unexpected exits
    _children: list[_Child] = field(default_factory=list, init=False)
    _helpers: list[tuple[Program, subprocess.Popen]] = field(default_factory=list, init=False)
    _stopping: bool = field(default=False, init=False)

    def stop(self) -> None:
        """Ask :meth:`run` to stop everything and return (safe in a signal handler)."""
        self._stopping = True

    def pid(self, name: str) -> int | None:
        """The pid of program ``name`` now (None while it waits to be restarted)."""
        for child in self._children:
            if child.program.name == name and child.process is not None:
                return child.process.pid
        return None

    def run(self) -> int:
        """Start every program and keep them up until :meth:`stop` (returns 0) or a failed
        first start (returns 1)."""
        self._children = [_Child(program) for program in self.programs]
        try:
            for child in self._children:
                self._start(child)
            while not self._stopping:
                if not self._watch(time.monotonic()):
                    return 1
                self._reap_helpers()
                time.sleep(self.poll_interval)
            return 0
        finally:
            self._stop_all()

    # ------------------------------------------------------------------------------ internals
    def _watch(self, now: float) -> bool:
        """One look at every child; False when one failed its first start."""
        for child in self._children:
            if child.process is None:
                if now >= child.restart_at:
                    self._start(child)
                    if child.program.on_restart:
                        self._helper(child.program)
                continue
            returncode = child.process.poll()
            ran = now - child.started_at
            child.up = child.up or ran >= self.startup_grace
            if returncode is None:
                continue
            name, pid = child.program.name, child.process.pid
            _group_stop(pid, timeout=5.0)  # what it leaves behind would keep working unseen
            if not child.up:
                self.log(
                    f"{name} (pid {pid}) {exit_reason(returncode)} {ran:.0f} s after it was "
                    "started: it failed to start, so everything is stopped."
                )
                return False
            if ran >= self.stable_after:
                child.exits_in_a_row = 0
            delay = min(self.backoff_max, self.backoff_first * 2**child.exits_in_a_row)
            child.exits_in_a_row += 1
            child.process, child.restart_at = None, now + delay
            self.restarts.append(Restart(name, returncode, ran, delay))
            self.log(
                f"{name} (pid {pid}) {exit_reason(returncode)} after {ran:.0f} s; restarting it "
                f"in {delay:g} s (exit {child.exits_in_a_row} in a row). The rest keep serving."
            )
        return True

    def _start(self, child: _Child) -> None:
        # Its own session: it leads a process group, so stopping it reaches its own children,
        # and a terminal's Ctrl-C reaches only the supervisor, which stops everything in order.
        child.process = subprocess.Popen(
            child.program.args, start_new_session=True, preexec_fn=_dies_with(os.getpid())
        )
        child.started_at, child.restart_at = time.monotonic(), None
        if child.up:
            self.log(f"{child.program.name} restarted (pid {child.process.pid}).")

    def _helper(self, program: Program) -> None:
        process = subprocess.Popen(
            program.on_restart, start_new_session=True, preexec_fn=_dies_with(os.getpid())
        )
        self._helpers.append((program, process))

    def _reap_helpers(self) -> None:
        for entry in list(self._helpers):
            program, process = entry
            if process.poll() is None:
                continue
            self._helpers.remove(entry)
            if process.returncode != 0:
                command = " ".join(program.on_restart)
                self.log(f"{command} (after {program.name} restarted) "
                         f"{exit_reason(process.returncode)}.")  # fmt: skip

    def _stop_all(self) -> None:
        processes = [c.process for c in self._children if c.process is not None]
        processes += [process for _, process in self._helpers]
        for process in processes:
            _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for process in processes:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()


def _signal_group(pgid: int, signum: int) -> bool:
    """Send ``signum`` to process group ``pgid``; False when the group is gone."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    return True


def _group_stop(pgid: int, *, timeout: float) -> None:
    """SIGTERM what is left of a group whose leader exited, then SIGKILL after ``timeout``."""
    if not _signal_group(pgid, signal.SIGTERM):
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _signal_group(pgid, 0):
            return
        time.sleep(0.1)
    _signal_group(pgid, signal.SIGKILL)
