"""devstack's Alertmanager configuration: render.sh's output, test timings only where asked."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from devstack.alertmanager import ALERTMANAGER_DIR, Timings, render_config
from devstack.process import SetupError
from tests.services import require_binary

URL = "http://127.0.0.1:1/api/webhooks/1/token"
FAST = Timings("1s", "2s", "12s")
KEYS = ("group_wait", "group_interval", "repeat_interval")


def test_without_timings_it_is_the_generated_config(tmp_path: Path) -> None:
    config = render_config(tmp_path, URL)
    rendered = yaml.safe_load(config.read_text())
    shipped = yaml.safe_load((ALERTMANAGER_DIR / "alertmanager.yml").read_text())
    shipped["receivers"][0]["discord_configs"][0]["webhook_url"] = URL
    rendered_message = rendered["receivers"][0]["discord_configs"][0].pop("message")
    shipped["receivers"][0]["discord_configs"][0].pop("message")
    assert rendered == shipped
    assert "${" not in rendered_message


def test_timings_replace_only_the_three_values_on_every_route(tmp_path: Path) -> None:
    shipped = yaml.safe_load(render_config(tmp_path / "shipped", URL).read_text())
    fast = yaml.safe_load(render_config(tmp_path / "fast", URL, timings=FAST).read_text())
    for route in [fast["route"], *fast["route"]["routes"]]:
        assert [route[k] for k in KEYS] == ["1s", "2s", "12s"]
    for route in [shipped["route"], *shipped["route"]["routes"]]:
        for key in KEYS:
            route.pop(key, None)
    for route in [fast["route"], *fast["route"]["routes"]]:
        for key in KEYS:
            route.pop(key)
    assert fast == shipped
    check = subprocess.run(
        [
            require_binary("amtool", "prometheus-alertmanager"),
            "check-config",
            str(tmp_path / "fast/alertmanager.yml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_bad_role_id_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SetupError) as raised:
        render_config(tmp_path, URL, role_id="@ops")
    assert str(raised.value) == (
        "render.sh: DISCORD_CRITICAL_ROLE_ID must be a numeric Discord role id"
    )
