"""Which backend runs the servers, and the one interface over either.

``DBSBM_SERVICES`` picks it: ``local`` (the default) runs Debian's binaries as child
processes; ``docker`` runs Redis, MySQL and Prometheus as testcontainers on the engine
``DOCKER_HOST`` names, with the images docker-compose.yml would run (see
:func:`compose_image`), so the two cannot drift. The collector is always a local process:
it is the binary built from our manifest, the same one the compose image is built from.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from devstack.process import (
    LOOPBACK,
    REPO,
    Missing,
    Process,
    SetupError,
    StartError,
    port_open,
    wait_for,
)

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


def compose_image(variable: str) -> str:
    """The image docker-compose.yml would run for ``variable`` (``REDIS_IMAGE``, ...).

    As with compose, a variable set in the environment wins over ``.env``; that is how
    locally built images replace the registry's.
    """
    if os.environ.get(variable):
        return os.environ[variable]
    for line in (REPO / ".env").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == variable:
            return value.strip()
    raise LookupError(f"{variable} is not set in {REPO / '.env'}")


def publish(container: DockerContainer, container_port: int, host_port: int) -> None:
    """Publish ``container_port`` on 127.0.0.1:``host_port`` only.

    testcontainers' ``with_bind_ports`` publishes on every interface; docker-py takes a
    (host address, port) pair, which testcontainers passes through unchanged.
    """
    ports: dict[str, Any] = container.ports
    ports[str(container_port)] = (LOOPBACK, host_port)


def run(container: DockerContainer) -> None:
    """Start ``container`` and wait as its class does; remove it again if that fails.

    Clients reach it at 127.0.0.1, where :func:`publish` put it: testcontainers would
    otherwise guess, and from inside a container (CI here) it guesses the gateway.
    Testcontainers' Ryuk reaper stays off unless ``TESTCONTAINERS_RYUK_DISABLED`` says
    otherwise: it removes what a crashed run leaves behind, but its image comes from
    Docker Hub, which an engine without a registry cannot pull, and every service here
    is removed by its ``close()``.
    """
    from testcontainers.core.config import ConnectionMode, testcontainers_config

    testcontainers_config.tc_host_override = LOOPBACK
    testcontainers_config.connection_mode_override = ConnectionMode.docker_host
    if "TESTCONTAINERS_RYUK_DISABLED" not in os.environ:
        testcontainers_config.ryuk_disabled = True
    try:
        container.start()
    except BaseException:
        container.stop()
        raise


def wait_ready(
    container: DockerContainer, check: Callable[[], bool], timeout: float, what: str
) -> None:
    """:func:`wait_for` ``check``; on timeout remove the container, raising with its log."""
    try:
        wait_for(check, timeout, what)
    except TimeoutError as exc:
        logs = container.get_wrapped_container().logs(tail=20).decode(errors="replace")
        container.stop()
        raise StartError(f"{exc}; its log:\n{logs}") from None


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
        """Undo :meth:`pause`; a server that is not paused is left alone, as SIGCONT does."""
        if self.control:
            self.control.resume()
            return
        container = self._docker()
        container.reload()
        if container.status == "paused":
            container.unpause()

    def close(self) -> None:
        """Stop it for good (a container is removed)."""
        if self.control:
            self.control.stop()
        elif self.container is not None:
            self.container.stop()
