"""Notifications: the generated Alertmanager configuration and the Discord message templates.

Alertmanager (Debian's 0.25) renders the shared templates through ``amtool`` for every alert
rule, firing and resolved, with labels and annotations as that rule's promtool case fires
them. The output is compared with golden files (``DBSBM_UPDATE_GOLDEN=1`` rewrites them)
and checked against Discord's limits. A real Alertmanager checks routing and inhibition.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from dbsbm_mixin import notify, promtool
from dbsbm_mixin.alerts import ALERTS
from dbsbm_mixin.model import Alert, Fires, Rule
from devstack.discord_webhook import CONTENT_MAX, EMBED_TOTAL_MAX, TITLE_MAX
from tests.services import LOCALHOST, REPO, free_port, require_binary, wait_for

GOLDEN = Path(__file__).parent / "testdata" / "alerting"
RENDER = REPO / "deploy/alertmanager/render.sh"
WEBHOOK = "http://127.0.0.1:9/api/webhooks/1/stand-in"  # discard port: nothing listens
ROLE = "123456789012345678"
STARTS, ENDS = "2026-12-02T05:00:00Z", "2026-12-02T05:42:00Z"
NEVER = "0001-01-01T00:00:00Z"


def amtool() -> str:
    return require_binary("amtool", "prometheus-alertmanager")


def render_config(out: Path, role: str = "") -> Path:
    env = {**os.environ, "DISCORD_ALERT_WEBHOOK_URL": WEBHOOK, "DISCORD_CRITICAL_ROLE_ID": role}
    subprocess.run(["bash", str(RENDER), str(out)], env=env, check=True, timeout=30)
    return out


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_config(tmp_path_factory.mktemp("alertmanager"), role=ROLE)


def firing_example(alert: Alert, rule: Rule) -> Fires:
    """The first firing this rule's own promtool cases expect."""
    return next(
        fires
        for case in alert.tests
        for at in case.expect
        for fires in at.fires
        if alert.rule_for(fires.labels) == rule
    )


def instance(alert: Alert, rule: Rule, fires: Fires, status: str) -> dict[str, Any]:
    labels = {"alertname": alert.name, **fires.labels}
    annotations = {
        key: promtool.render(text, fires.labels, fires.value)
        for key, text in alert.annotations(rule).items()
    }
    return {
        "status": status,
        "labels": labels,
        "annotations": annotations,
        "startsAt": STARTS,
        "endsAt": NEVER if status == "firing" else ENDS,
    }


def common(dicts: list[Mapping[str, str]]) -> dict[str, str]:
    return {k: v for k, v in dicts[0].items() if all(d.get(k) == v for d in dicts)}


def notification(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    """Alertmanager's template data for one group of ``alerts``."""
    labels = common([a["labels"] for a in alerts])
    return {
        "receiver": "discord",
        "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
        "alerts": alerts,
        "groupLabels": {k: labels[k] for k in ("alertname", "severity")},
        "commonLabels": labels,
        "commonAnnotations": common([a["annotations"] for a in alerts]),
        "externalURL": f"http://{LOCALHOST}:9093",
    }


def discord_fields(config_file: Path) -> dict[str, Any]:
    [receiver] = [
        r for r in yaml.safe_load(config_file.read_text())["receivers"] if r.get("discord_configs")
    ]
    [fields] = receiver["discord_configs"]
    return dict(fields)


def render(config: Path, data: dict[str, Any], tmp_path: Path) -> tuple[str, str]:
    """Title and message as Alertmanager renders its Discord receiver's fields for ``data``."""
    path = tmp_path / "data.json"
    path.write_text(json.dumps(data))
    fields = discord_fields(config / "alertmanager.yml")
    separator = "\n=====\n"
    result = subprocess.run(
        [
            amtool(),
            "template",
            "render",
            f"--template.glob={config / notify.TEMPLATE_FILE}",
            f"--template.data={path}",
            f"--template.text={fields['title']}{separator}{fields['message']}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    title, message = result.stdout.split(separator)
    return title, message


def rules() -> Iterator[tuple[Alert, Rule]]:
    for alert in ALERTS:
        for rule in alert.rules:
            yield alert, rule


RULES = list(rules())


def check_discord_limits(title: str, message: str) -> None:
    assert 0 < len(title) <= TITLE_MAX, title
    # Discord's limits (the stand-in's): Grafana sends the message as content, Alertmanager
    # as an embed description, so the message must fit the smaller.
    assert 0 < len(message) <= CONTENT_MAX, len(message)
    assert len(title) + len(message) <= EMBED_TOTAL_MAX


@pytest.mark.parametrize("status", ["firing", "resolved"])
@pytest.mark.parametrize(("alert", "rule"), RULES, ids=[a.key(r) for a, r in RULES])
def test_message_matches_its_golden_file(
    alert: Alert, rule: Rule, status: str, rendered: Path, tmp_path: Path
) -> None:
    """Each rule's message, firing and resolved, reads as its golden file and fits Discord."""
    fires = firing_example(alert, rule)
    title, message = render(
        rendered, notification([instance(alert, rule, fires, status)]), tmp_path
    )
    check_discord_limits(title, message)
    assert alert.name in title and f"({rule.severity})" in title
    assert rule.summary in message and alert.annotations(rule)["runbook_url"] in message
    if status == "firing":
        assert "since 2026-12-02 05:00 UTC" in message
    text = f"{title}\n---\n{message}\n"
    golden = GOLDEN / f"{alert.key(rule)}-{status}.txt"
    if os.environ.get("DBSBM_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert golden.read_text() == text, f"{golden.name}: rerun with DBSBM_UPDATE_GOLDEN=1 to accept"


@pytest.mark.parametrize(("alert", "rule"), RULES, ids=[a.key(r) for a, r in RULES])
def test_a_crowded_message_still_fits_discord(
    alert: Alert, rule: Rule, rendered: Path, tmp_path: Path
) -> None:
    """Twenty instances of one rule, half firing and half resolved, still fit one message."""
    fires = firing_example(alert, rule)
    crowd = []
    for n in range(20):
        labels = {k: f"{v}-{n:02d}-{'x' * 40}" for k, v in fires.labels.items()}
        labels.update(alert.labels(rule))  # severity and static labels stay shared
        status = "firing" if n % 2 else "resolved"
        crowd.append(instance(alert, rule, Fires(labels, fires.value), status))
    title, message = render(rendered, notification(crowd), tmp_path)
    check_discord_limits(title, message)
    assert f"({notify.MAX_FIRING} of 10 shown)" in message
    assert f"({notify.MAX_RESOLVED} of 10 shown)" in message


@pytest.mark.parametrize(
    ("severity", "role", "mentioned"),
    [("critical", ROLE, True), ("critical", "", False), ("warning", ROLE, False)],
)
def test_only_firing_critical_messages_mention_the_role(
    severity: str, role: str, mentioned: bool, tmp_path: Path
) -> None:
    """The role (DISCORD_CRITICAL_ROLE_ID, optional) is mentioned on critical firing only."""
    config = render_config(tmp_path / "config", role=role)
    alert, rule = next((a, r) for a, r in RULES if r.severity == severity)
    fires = firing_example(alert, rule)
    for status in ("firing", "resolved"):
        _, message = render(config, notification([instance(alert, rule, fires, status)]), tmp_path)
        assert ("<@&" in message) == (mentioned and status == "firing"), message
        assert message.startswith(f"<@&{ROLE}>\n") == (mentioned and status == "firing")


def test_rendered_config_passes_amtool_check_config(rendered: Path) -> None:
    """`amtool check-config` accepts the configuration render.sh writes."""
    result = subprocess.run(
        [amtool(), "check-config", str(rendered / "alertmanager.yml")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "discord_configs" in (rendered / "alertmanager.yml").read_text()
    assert WEBHOOK in (rendered / "alertmanager.yml").read_text()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "DISCORD_ALERT_WEBHOOK_URL is not set"),
        ({"DISCORD_ALERT_WEBHOOK_URL": WEBHOOK, "DISCORD_CRITICAL_ROLE_ID": "ops"}, "numeric"),
    ],
)
def test_render_sh_refuses_bad_input_in_one_line(
    env: dict[str, str], message: str, tmp_path: Path
) -> None:
    """A missing webhook or a role that is no Discord id: exit 2, one line naming it."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DISCORD_")}
    result = subprocess.run(
        ["bash", str(RENDER), str(tmp_path / "out")],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert message in line


@pytest.mark.parametrize(
    ("severity", "receiver"),
    [("critical", "discord"), ("warning", "discord"), ("info", "silent"), ("", "discord")],
)
def test_routes_by_severity(severity: str, receiver: str, rendered: Path) -> None:
    """Critical and warning reach Discord, info never does, an unknown one is not lost."""
    result = subprocess.run(
        [
            amtool(),
            "config",
            "routes",
            "test",
            f"--config.file={rendered / 'alertmanager.yml'}",
            "alertname=DbsbmExample",
            *([f"severity={severity}"] if severity else []),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == receiver


def test_grafana_and_alertmanager_share_the_templates() -> None:
    """Grafana's provisioned template and Discord fields are Alertmanager's, word for word."""
    alerting = yaml.safe_load(
        (REPO / "deploy/grafana/provisioning/alerting/alerts.yaml").read_text()
    )
    [template] = alerting["templates"]
    on_disk = (REPO / "deploy/alertmanager" / notify.TEMPLATE_FILE).read_text()
    assert template["template"] in on_disk and template["template"] == notify.TEMPLATES
    # Neither expands the environment in templates: the role lives in the receiver's fields.
    assert "$" not in notify.TEMPLATES
    [point] = alerting["contactPoints"]
    [grafana] = point["receivers"]
    fields = discord_fields(REPO / "deploy/alertmanager/alertmanager.yml")
    for key in ("title", "message"):
        assert grafana["settings"][key] == fields[key]


def test_a_firing_critical_inhibits_its_own_warning(rendered: Path, tmp_path: Path) -> None:
    """Alertmanager marks the warning of a critical's host inhibited, another host's not."""
    binary = require_binary("prometheus-alertmanager", "prometheus-alertmanager")
    port = free_port()
    url = f"http://{LOCALHOST}:{port}"
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={rendered / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address={LOCALHOST}:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: _ready(url), 30, "alertmanager")
        memory = next(a for a in ALERTS if a.name == "DbsbmHostMemoryHigh")
        alerts = []
        for severity, host in (
            ("critical", "host-1"),
            ("warning", "host-1"),
            ("warning", "host-2"),
        ):
            rule = next(r for r in memory.rules if r.severity == severity)
            labels = {"severity": severity, "host_name": host, "state": "used"}
            alerts.append(instance(memory, rule, Fires(labels, 0.95), "firing"))
        posted = [{k: a[k] for k in ("labels", "annotations", "startsAt")} for a in alerts]
        request = urllib.request.Request(
            f"{url}/api/v2/alerts",
            data=json.dumps(posted).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200

        def inhibited() -> dict[tuple[str, str], bool]:
            with urllib.request.urlopen(f"{url}/api/v2/alerts", timeout=5) as response:
                got = json.load(response)
            return {
                (a["labels"]["severity"], a["labels"]["host_name"]): bool(
                    a["status"]["inhibitedBy"]
                )
                for a in got
            }

        wait_for(lambda: len(inhibited()) == 3, 10, "alerts received")
        assert inhibited() == {
            ("critical", "host-1"): False,
            ("warning", "host-1"): True,
            ("warning", "host-2"): False,
        }
    finally:
        process.terminate()
        process.wait(timeout=10)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False
