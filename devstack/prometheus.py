"""Prometheus with the remote-write receiver: the route the collector writes metrics by."""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from devstack.containers import ServerService, backend, compose_image, run, wait_ready
from devstack.process import (
    LOOPBACK,
    REPO,
    Process,
    SetupError,
    free_port,
    http_ok,
    require_binary,
)

PROMETHEUS_CONFIG = REPO / "deploy/prometheus/prometheus.yml"
# docker-compose.yml's flags, so the stack here stores what compose's does (exemplars too).
PROMETHEUS_FLAGS = ("--web.enable-remote-write-receiver", "--enable-feature=exemplar-storage")


@dataclass(kw_only=True)
class PrometheusService(ServerService):
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def remote_write_url(self) -> str:
        return f"{self.url}/api/v1/write"

    def query(self, promql: str) -> list[dict[str, object]]:
        """Instant query through the HTTP API; the ``result`` list."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return list(body["data"]["result"])


def _config_file(config: Path | None) -> Path:
    path = Path(config or PROMETHEUS_CONFIG).resolve()
    if not path.is_file():
        raise SetupError(f"Prometheus config not found: {path}")
    return path


def prometheus_process(
    workdir: Path, port: int, config: Path | None = None, log_dir: Path | None = None
) -> Process:
    """prometheus on ``port``, its TSDB in ``workdir``; ``config`` defaults to the deployed one."""
    argv = [
        require_binary("prometheus", "prometheus"),
        f"--config.file={_config_file(config)}",
        f"--storage.tsdb.path={workdir / 'tsdb'}",
        f"--web.listen-address={LOOPBACK}:{port}",
        *PROMETHEUS_FLAGS,
    ]
    ready = f"http://{LOOPBACK}:{port}/-/ready"
    log = (log_dir or workdir) / "prometheus.log"
    return Process("prometheus", argv, lambda: http_ok(ready), log, cwd=workdir)


def start_prometheus(workdir: Path, config: Path | None = None) -> PrometheusService:
    """A running Prometheus on a free loopback port, from the backend ``DBSBM_SERVICES`` picks.

    ``config`` defaults to ``deploy/prometheus/prometheus.yml`` unchanged.
    """
    port = free_port()
    if backend() == "docker":
        from testcontainers.core.container import DockerContainer

        config_file = _config_file(config)
        workdir = workdir.resolve()  # docker mounts absolute paths only
        # On the host's network, listening on loopback as the local process does: the
        # targets a test asks it to scrape are on this machine's 127.0.0.1. The config's
        # folder, the repository and ``workdir`` at their own paths, so the config, the
        # rule files it names and the TSDB are where the local process has them (the TSDB
        # outlives a stop and start); it runs as our own user, who can read and write
        # them (pytest's temporary folders are private).
        container = (
            DockerContainer(compose_image("PROMETHEUS_IMAGE"))
            .with_volume_mapping(str(config_file.parent), str(config_file.parent), "ro")
            .with_volume_mapping(str(REPO), str(REPO), "ro")
            .with_volume_mapping(str(workdir), str(workdir), "rw")
            .with_kwargs(network_mode="host", user=f"{os.getuid()}:{os.getgid()}")
            .with_command(
                [
                    f"--config.file={config_file}",
                    f"--storage.tsdb.path={workdir / 'tsdb'}",
                    f"--web.listen-address={LOOPBACK}:{port}",
                    *PROMETHEUS_FLAGS,
                ]
            )
        )
        run(container)
        ready = f"http://{LOOPBACK}:{port}/-/ready"
        wait_ready(container, lambda: http_ok(ready), 60, "prometheus container")
        return PrometheusService(host=LOOPBACK, port=port, container=container)
    process = prometheus_process(workdir, port, config)
    process.start()
    return PrometheusService(host=LOOPBACK, port=port, control=process)
