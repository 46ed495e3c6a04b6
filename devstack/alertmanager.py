"""Alertmanager (Debian's 0.25) notifying Discord, and a Prometheus that sends it alerts.

The configuration is the generated one (``deploy/alertmanager/``) rendered by its own
``render.sh``, so the stack here routes, groups, inhibits and words messages exactly as a
deployment does. Only the webhook URL differs (the stand-in's, from
``devstack.discord_webhook``, unless a real one is given) and, for tests that cannot wait
minutes, the three notification timings (:class:`Timings`).

``deploy/prometheus/prometheus.yml`` has no ``alerting:`` section on purpose: in compose
Grafana's contact point notifies and no Alertmanager runs, so the same alert is never sent
twice. :func:`prometheus_config` adds the section only for the local stack here.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from devstack.containers import ServerService
from devstack.process import (
    LOOPBACK,
    REPO,
    Process,
    SetupError,
    free_port,
    http_ok,
    require_binary,
)
from devstack.prometheus import PROMETHEUS_CONFIG

ALERTMANAGER_DIR = REPO / "deploy/alertmanager"
RENDER = ALERTMANAGER_DIR / "render.sh"
WEBHOOK_ENV = "DISCORD_ALERT_WEBHOOK_URL"
ROLE_ENV = "DISCORD_CRITICAL_ROLE_ID"


@dataclass(frozen=True)
class Timings:
    """Alertmanager's notification timings, set on the root route and every route.

    A test-only override: the generated values (group_wait of seconds, group_interval of
    minutes, repeat_interval of hours) are what a deployment runs.
    """

    group_wait: str
    group_interval: str
    repeat_interval: str


def render_config(
    out_dir: Path, webhook_url: str, role_id: str = "", timings: Timings | None = None
) -> Path:
    """``out_dir/alertmanager.yml`` (and its template) through ``render.sh``; its path."""
    env = {**os.environ, WEBHOOK_ENV: webhook_url, ROLE_ENV: role_id}
    result = subprocess.run(
        ["bash", str(RENDER), str(out_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if result.returncode != 0:
        raise SetupError(result.stderr.strip() or f"{RENDER} exited with {result.returncode}")
    config = out_dir / "alertmanager.yml"
    if timings is not None:
        document = yaml.safe_load(config.read_text())
        for route in [document["route"], *document["route"].get("routes", [])]:
            route.update(
                group_wait=timings.group_wait,
                group_interval=timings.group_interval,
                repeat_interval=timings.repeat_interval,
            )
        config.write_text(yaml.safe_dump(document, sort_keys=False))
    return config


def alertmanager_process(
    workdir: Path, port: int, config: Path, log_dir: Path | None = None
) -> Process:
    """Alertmanager on ``port`` with ``config``, its data in ``workdir``, clustering off."""
    argv = [
        require_binary("prometheus-alertmanager", "prometheus-alertmanager"),
        f"--config.file={config}",
        f"--storage.path={workdir / 'data'}",
        f"--web.listen-address={LOOPBACK}:{port}",
        # Empty: no gossip listener (it would bind every interface), one instance alone.
        "--cluster.listen-address=",
    ]
    ready = f"http://{LOOPBACK}:{port}/-/ready"
    log = (log_dir or workdir) / "alertmanager.log"
    return Process("alertmanager", argv, lambda: http_ok(ready), log, cwd=workdir)


def prometheus_config(out: Path, alertmanager_port: int, base: Path = PROMETHEUS_CONFIG) -> Path:
    """``base`` with an ``alerting:`` section sending to Alertmanager on ``alertmanager_port``.

    Written to ``out``; relative rule file globs are made absolute against ``base``'s
    folder, so the rules it names still load.
    """
    document: dict[str, Any] = yaml.safe_load(base.read_text())
    document["rule_files"] = [
        str((base.parent / pattern).resolve()) for pattern in document.get("rule_files", [])
    ]
    document["alerting"] = {
        "alertmanagers": [{"static_configs": [{"targets": [f"{LOOPBACK}:{alertmanager_port}"]}]}]
    }
    out.write_text(yaml.safe_dump(document, sort_keys=False))
    return out


@dataclass(kw_only=True)
class AlertmanagerService(ServerService):
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def alerts(self, **filters: str) -> list[dict[str, Any]]:
        """The alerts it holds (API v2), e.g. ``alerts(filter='severity="warning"')``."""
        query = urllib.parse.urlencode(filters)
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts?{query}", timeout=10) as resp:
            return list(json.load(resp))


def start_alertmanager(
    workdir: Path, webhook_url: str, role_id: str = "", timings: Timings | None = None
) -> AlertmanagerService:
    """A running Alertmanager on a free loopback port notifying ``webhook_url``.

    ``role_id`` is the Discord role critical alerts mention (none when empty).

    Always a local process: Debian's binary is what the tests exercise, and the
    Prometheus that alerts it reaches it on loopback.
    """
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    config = render_config(workdir / "config", webhook_url, role_id, timings)
    process = alertmanager_process(workdir, port, config)
    process.start()
    return AlertmanagerService(host=LOOPBACK, port=port, control=process)
