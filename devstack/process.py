"""What every service of the dev stack shares: ports, readiness, binaries, child processes.

Everything binds 127.0.0.1. A child runs in its own session, so stopping it stops what it
started, and its output goes to a log file whose tail is shown when it fails to start.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"


class DevStackError(Exception):
    """A service of the dev stack could not be provided; the message says why."""


class SetupError(DevStackError):
    """The machine lacks something the stack needs, or a config is invalid."""


class Missing(SetupError):
    """A program or engine is not installed; the message says how to get it."""


class StartError(DevStackError):
    """A process exited or never became ready; the message carries its log's tail."""


def require_binary(name: str, package: str) -> str:
    """The path of ``name``, looked up in PATH and the sbin folders Debian uses."""
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None
    )
    if path is None:
        # ``package`` is a Debian package name, or a phrase when apt does not provide it.
        how = f"install {package}" if " " in package else f"`apt-get install {package}`"
        raise Missing(
            f"{name} is not available: {how} "
            "(scripts/install-deps.sh installs everything the stack needs)"
        )
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def pick_port(preferred: int) -> int:
    """``preferred`` when it is free (stable URLs to print), else any free port."""
    with socket.socket() as s:
        # As servers bind: a port in TIME_WAIT from the last run is free to reuse.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((LOOPBACK, preferred))
        except OSError:
            return free_port()
    return preferred


def port_open(port: int, host: str = LOOPBACK) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(200 <= response.status < 300)
    except (urllib.error.URLError, OSError):
        return False


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``check`` until it is true; any exception it raises counts as not yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # the service is still coming up
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not become ready within {timeout:.0f} s")


def service_dir(prefix: str) -> Path:
    """A fresh folder for one service's data and log."""
    return Path(tempfile.mkdtemp(prefix=f"dbsbm-{prefix}-"))


@dataclass
class Process:
    """A child in its own session: start it, wait until ready, pause, stop or kill it."""

    name: str
    argv: Sequence[str]
    ready: Callable[[], bool]
    log_path: Path
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path = REPO
    start_timeout: float = 60.0
    popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self.popen is None else self.popen.pid

    def start(self) -> None:
        """Start and wait until ``ready``; on exit or timeout stop it and raise StartError."""
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                list(self.argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.cwd,
                env={**os.environ, **self.env},
                start_new_session=True,
            )
        deadline = time.monotonic() + self.start_timeout
        while not self._ready():
            code = self.popen.poll()
            if code is not None:
                raise StartError(
                    f"{self.name} exited with code {code} while starting; "
                    f"its log ({self.log_path}):\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise StartError(
                    f"{self.name} was not ready after {self.start_timeout:.0f} s; "
                    f"its log ({self.log_path}):\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def _ready(self) -> bool:
        try:
            return self.ready()
        except Exception:  # a probe that raises means "not yet"
            return False

    def exited(self) -> int | None:
        """The exit code once it has exited, else None (also before it started)."""
        return None if self.popen is None else self.popen.poll()

    def _signal_group(self, signum: signal.Signals) -> None:
        assert self.popen is not None
        try:
            os.killpg(self.popen.pid, signum)
        except ProcessLookupError:
            pass

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM to its session (a paused one is resumed first), SIGKILL after ``timeout``."""
        if self.popen is None or self.popen.poll() is not None:
            return
        self._signal_group(signal.SIGCONT)
        self._signal_group(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.popen.wait(timeout=5)

    def kill(self) -> None:
        """SIGKILL, as a crash would end it."""
        if self.popen is not None and self.popen.poll() is None:
            self._signal_group(signal.SIGKILL)
            self.popen.wait(timeout=5)

    def pause(self) -> None:
        """SIGSTOP: the port stays open and nothing answers (a hung server)."""
        assert self.popen is not None
        os.kill(self.popen.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.popen is not None
        os.kill(self.popen.pid, signal.SIGCONT)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])
