"""Which backend runs the servers, and the one interface over either.

``DBSBM_SERVICES`` picks it: ``local`` (the default) runs Debian's binaries as child
processes; ``docker`` runs Redis, MySQL and Prometheus as testcontainers, with the image
tags ``.env`` gives docker-compose.yml, so the two cannot drift. The collector is always
a local process: it is the binary built from our manifest, the same one the compose image
is built from.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from devstack.process import REPO, Missing, Process, SetupError, port_open, wait_for

if TYPE_CHECKING:
    from testcontainers.core.container import DockerContainer

Backend = Literal["local", "docker"]
BACKENDS: tuple[Backend, ...] = ("local", "docker")


def backend() -> Backend:
    """``DBSBM_SERVICES``, checked: ``local`` unless it says ``docker``."""
    value = os.environ.get("DBSBM_SERVICES", "").strip() or "local"
    for name in BACKENDS:
        if value == name:
            if name == "docker" and not docker_available():
                raise Missing(
                    "DBSBM_SERVICES=docker but no Docker engine answers: start one "
                    "(scripts/docker-engine.sh) or set DBSBM_SERVICES=local"
                )
            return name
    raise SetupError(f"DBSBM_SERVICES={value!r} is not one of: {', '.join(BACKENDS)}")


@functools.cache
def docker_available() -> bool:
    """Asked once per process: does a Docker engine answer (``DOCKER_HOST`` or the default)?"""
    try:
        from testcontainers.core.docker_client import DockerClient

        return bool(DockerClient().client.ping())
    except Exception:  # any failure means "no engine here"
        return False


@functools.cache
def compose_image(variable: str) -> str:
    """The image tag ``.env`` gives docker-compose.yml."""
    for line in (REPO / ".env").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == variable:
            return value.strip()
    raise LookupError(f"{variable} is not set in {REPO / '.env'}")


@dataclass(kw_only=True)
class ServerService:
    """Stop, start, kill, pause and resume a server the same way whatever runs it.

    Exactly one of ``control`` (a local process) and ``container`` is set.
    """

    host: str
    port: int
    control: Process | None = None
    container: DockerContainer | None = None
    start_timeout: float = 60.0

    def _docker(self) -> Any:
        """docker-py's container (docker-py ships no types)."""
        assert self.container is not None
        return self.container.get_wrapped_container()

    def stop(self) -> None:
        if self.control:
            self.control.stop()
        else:
            self._docker().stop(timeout=5)

    def kill(self) -> None:
        """Abruptly, as a crash would end it."""
        if self.control:
            self.control.kill()
        else:
            self._docker().kill()

    def start(self) -> None:
        """Start it again after :meth:`stop` or :meth:`kill`, on the same port."""
        if self.control:
            self.control.start()
        else:
            self._docker().start()
            wait_for(lambda: port_open(self.port, self.host), self.start_timeout, "container")

    def pause(self) -> None:
        """SIGSTOP (``docker pause``): the port stays open and nothing answers."""
        if self.control:
            self.control.pause()
        else:
            self._docker().pause()

    def resume(self) -> None:
        if self.control:
            self.control.resume()
        else:
            self._docker().unpause()

    def close(self) -> None:
        """Stop it for good (a container is removed)."""
        if self.control:
            self.control.stop()
        elif self.container is not None:
            self.container.stop()
