"""Each stack has exactly one notifier, so an alert never reaches Discord twice.

In compose Grafana evaluates the mixin's rules and its contact point notifies; its
Prometheus loads the same rules for dashboards and ``dbsbm-status`` but names no
Alertmanager, and none runs. The local stack (the demo and the delivery tests) has no
Grafana: there Prometheus alerts the Alertmanager ``devstack.alertmanager`` starts, through
the ``alerting:`` section :func:`devstack.alertmanager.prometheus_config` adds to a copy of
the same Prometheus config. Changing either side (an ``alerting:`` section in the shipped
config, an Alertmanager in compose) fails here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from devstack.alertmanager import prometheus_config
from devstack.prometheus import PROMETHEUS_CONFIG
from tests.services import REPO

COMPOSE = REPO / "docker-compose.yml"
GRAFANA_ALERTING = REPO / "deploy/grafana/provisioning/alerting"


def compose_services() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text())["services"])


def test_compose_prometheus_alerts_no_alertmanager() -> None:
    shipped = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    assert "alerting" not in shipped
    volumes = compose_services()["prometheus"]["volumes"]
    assert any(v.startswith("./deploy/prometheus/prometheus.yml:") for v in volumes), volumes


def test_compose_runs_no_alertmanager_and_grafana_notifies() -> None:
    for name, service in compose_services().items():
        assert "alertmanager" not in name.lower()
        assert "alertmanager" not in str(service.get("image", "")).lower(), name
    contact_points = [
        point
        for path in sorted(GRAFANA_ALERTING.glob("*.yaml"))
        for point in yaml.safe_load(path.read_text()).get("contactPoints", [])
    ]
    receivers = [r["type"] for point in contact_points for r in point["receivers"]]
    assert "discord" in receivers


def test_local_prometheus_config_adds_only_the_alertmanager(tmp_path: Path) -> None:
    out = prometheus_config(tmp_path / "prometheus.yml", 19093)
    local = yaml.safe_load(out.read_text())
    shipped = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    assert local["alerting"] == {
        "alertmanagers": [{"static_configs": [{"targets": ["127.0.0.1:19093"]}]}]
    }
    assert local["rule_files"] == [
        str(PROMETHEUS_CONFIG.parent / pattern) for pattern in shipped["rule_files"]
    ]
    unchanged = {k: v for k, v in local.items() if k not in {"alerting", "rule_files"}}
    assert unchanged == {k: v for k, v in shipped.items() if k != "rule_files"}
