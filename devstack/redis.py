"""Redis: Debian's redis-server with no persistence, or the compose image in a container."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from devstack.containers import ServerService, backend, compose_image, publish, run
from devstack.process import LOOPBACK, Process, free_port, port_open, require_binary


@dataclass(kw_only=True)
class RedisService(ServerService):
    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"


def redis_process(workdir: Path, port: int, log_dir: Path | None = None) -> Process:
    """redis-server on ``port``, nothing saved to disk, its files and log in ``workdir``."""
    argv = [
        require_binary("redis-server", "redis-server"),
        "--port",
        str(port),
        "--bind",
        LOOPBACK,
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
        "--protected-mode",
        "no",
    ]
    log = (log_dir or workdir) / "redis.log"
    return Process("redis", argv, lambda: port_open(port), log, cwd=workdir)


def start_redis(workdir: Path) -> RedisService:
    """A running Redis on a free loopback port, from the backend ``DBSBM_SERVICES`` picks."""
    port = free_port()
    if backend() == "docker":
        from testcontainers.community.redis import RedisContainer

        # The local recipe's settings (Redis' own defaults would refuse clients from
        # outside the container); a fixed host port, so that stop/start keeps the address.
        container = RedisContainer(compose_image("REDIS_IMAGE")).with_command(
            ["redis-server", "--protected-mode", "no", "--save", "", "--appendonly", "no"]
        )
        publish(container, 6379, port)
        run(container)
        return RedisService(host=LOOPBACK, port=port, container=container)
    process = redis_process(workdir, port)
    process.start()
    return RedisService(host=LOOPBACK, port=port, control=process)
