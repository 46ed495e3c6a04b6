"""Our collector (built from deploy/otel-collector/builder-config.yaml) and the file sink.

Every config reads its listen addresses from ``${env:OTELCOL_*}``; this sets them to
loopback ports. The sink is a second collector on ``otelcol-sink.yml`` (beside this
module), standing in for Tempo and Loki: it writes what it receives to JSON-lines files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from devstack.process import (
    LOOPBACK,
    REPO,
    Missing,
    Process,
    SetupError,
    free_port,
    http_ok,
)

COLLECTOR_CONFIG = REPO / "deploy/otel-collector/otelcol-config.yml"
SINK_CONFIG = Path(__file__).resolve().parent / "otelcol-sink.yml"


def collector_binary() -> Path:
    """``DBSBM_OTELCOL_BIN``, else the cached build of our manifest (built when it changed)."""
    if os.environ.get("DBSBM_OTELCOL_BIN"):
        return Path(os.environ["DBSBM_OTELCOL_BIN"])
    if shutil.which("go") is None:
        raise Missing(
            "the Go toolchain is not available: the collector is built from our manifest "
            "with Go (scripts/install-deps.sh installs it and builds the collector)"
        )
    result = subprocess.run(
        ["bash", str(REPO / "scripts/build-collector.sh"), "--print-path"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not result.stdout.strip():
        tail = "\n".join(result.stderr.splitlines()[-10:])
        raise SetupError(f"building the collector failed (scripts/build-collector.sh):\n{tail}")
    return Path(result.stdout.strip().splitlines()[-1])


@dataclass(frozen=True)
class CollectorPorts:
    """The loopback ports one collector listens on (any free ones unless given)."""

    otlp_grpc: int = field(default_factory=free_port)
    otlp_http: int = field(default_factory=free_port)
    health: int = field(default_factory=free_port)
    telemetry: int = field(default_factory=free_port)

    @property
    def env(self) -> dict[str, str]:
        """The variables our configs read their listen addresses from."""
        return {
            "OTELCOL_OTLP_GRPC_ENDPOINT": f"{LOOPBACK}:{self.otlp_grpc}",
            "OTELCOL_OTLP_HTTP_ENDPOINT": f"{LOOPBACK}:{self.otlp_http}",
            "OTELCOL_HEALTH_ENDPOINT": f"{LOOPBACK}:{self.health}",
            "OTELCOL_TELEMETRY_HOST": LOOPBACK,
            "OTELCOL_TELEMETRY_PORT": str(self.telemetry),
        }


def validate_config(binary: Path, config: Path, env: Mapping[str, str]) -> None:
    """``otelcol validate``, so a broken config is one line before anything starts."""
    if not config.is_file():
        raise SetupError(f"collector config not found: {config}")
    result = subprocess.run(
        [str(binary), "validate", f"--config={config}"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )
    if result.returncode != 0:
        lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit code {result.returncode}"
        raise SetupError(f"{config} is invalid: {reason}")


def collector_process(
    binary: Path,
    configs: Sequence[Path],
    workdir: Path,
    ports: CollectorPorts,
    env: Mapping[str, str] | None = None,
    name: str = "otelcol",
    log_dir: Path | None = None,
) -> Process:
    """The collector on ``configs`` (layered in order); ``env`` adds to the port variables."""
    health = f"http://{LOOPBACK}:{ports.health}/"
    return Process(
        name,
        [str(binary), *(f"--config={c}" for c in configs)],
        lambda: http_ok(health),
        (log_dir or workdir) / f"{name}.log",
        env={**ports.env, **(env or {})},
        cwd=workdir,
    )


@dataclass
class CollectorService:
    control: Process
    ports: CollectorPorts

    @property
    def otlp_grpc_port(self) -> int:
        return self.ports.otlp_grpc

    @property
    def otlp_http_port(self) -> int:
        return self.ports.otlp_http

    @property
    def health_port(self) -> int:
        return self.ports.health

    @property
    def otlp_http_endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.ports.otlp_http}"

    @property
    def otlp_grpc_endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.ports.otlp_grpc}"

    def close(self) -> None:
        self.control.stop()


def start_collector(
    workdir: Path,
    configs: Sequence[Path],
    env: Mapping[str, str] | None = None,
    name: str = "otelcol",
) -> CollectorService:
    """The built collector running ``configs`` on free loopback ports, ``env`` passed through."""
    ports = CollectorPorts()
    process = collector_process(collector_binary(), configs, workdir, ports, env, name)
    process.start()
    return CollectorService(process, ports)


def start_sink(workdir: Path, out_dir: Path) -> CollectorService:
    """The Tempo/Loki stand-in, writing traces.json, logs.json and metrics.json to ``out_dir``."""
    return start_collector(workdir, [SINK_CONFIG], {"SINK_DIR": str(out_dir)}, "otelcol-sink")
