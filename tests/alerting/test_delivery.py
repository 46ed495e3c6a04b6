"""Alerts reach Discord for real: Prometheus → Alertmanager 0.25 → the webhook stand-in.

Real processes only. Prometheus scrapes a host-memory series this test sets and
evaluates the mixin's own DbsbmHostMemoryHigh rules, time-compressed by ``FACTOR`` (a
``for`` of 10 m becomes 10 s); Alertmanager runs the generated configuration rendered by
``render.sh``, with the stand-in's URL and short notification timings (``TIMINGS``: the
shipped ones are seconds to hours, which a test cannot wait for); the stand-in
(``devstack.discord_webhook``) accepts only what Discord would.

Bounds are built from those settings, not measured: a change is scraped within
``INTERVAL``, seen by the next evaluation within another, and fires at the first
evaluation after ``for``; Prometheus sends at once, and Alertmanager sends a new group
after ``group_wait`` and a change to a known one at its next ``group_interval`` tick.
``SLACK`` covers process scheduling on a loaded machine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from dbsbm_mixin import prometheus as mixin_prometheus
from devstack.alertmanager import (
    AlertmanagerService,
    Timings,
    prometheus_config,
    start_alertmanager,
)
from devstack.discord_webhook import DiscordWebhook, Request, check_message
from devstack.process import Missing
from devstack.prometheus import PrometheusService, prometheus_process
from tests.exposition import serve_metrics
from tests.services import LOCALHOST, free_port, missing

pytestmark = pytest.mark.integration

ALERT = "DbsbmHostMemoryHigh"
FACTOR = 60
FOR = 10.0  # the rule's 10m divided by FACTOR
INTERVAL = 1.0  # scrape and evaluation interval
GROUP_WAIT, GROUP_INTERVAL, REPEAT_INTERVAL = 1.0, 2.0, 12.0
TIMINGS = Timings(f"{GROUP_WAIT:g}s", f"{GROUP_INTERVAL:g}s", f"{REPEAT_INTERVAL:g}s")
SLACK = 5.0
ROLE = "123456789012345678"
# Condition true (the series changes) → the stand-in has the firing message.
FIRING_BOUND = 2 * INTERVAL + FOR + INTERVAL + GROUP_WAIT + SLACK
# Condition false → the stand-in has the resolved message.
RESOLVED_BOUND = 2 * INTERVAL + GROUP_INTERVAL + SLACK


class _HostMemory:
    """``system_memory_utilization_ratio{state="used"}`` per host, as the collector writes it."""

    used: dict[str, float] = {}
    lock = threading.Lock()

    @classmethod
    def exposition(cls) -> str:
        with cls.lock:
            return "".join(
                f'system_memory_utilization_ratio{{host_name="{host}",state="used"}} {value}\n'
                for host, value in cls.used.items()
            )


@dataclass
class Stack:
    hook: DiscordWebhook
    alertmanager: AlertmanagerService
    prometheus: PrometheusService

    def set_used(self, **used: float) -> float:
        """Set the hosts' used-memory ratios at once; when (time.time())."""
        with _HostMemory.lock:
            _HostMemory.used = dict(used)
            return time.time()

    def wait_messages(self, count: int, timeout: float) -> list[Request]:
        """The first ``count`` messages the channel got, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while len(self.hook.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{count} messages expected within {timeout:.0f} s, got "
                    f"{[title(m) for m in self.hook.messages]}; requests "
                    f"{[(r.status, r.response) for r in self.hook.requests]}"
                )
            time.sleep(0.05)
        return self.hook.messages[:count]


def title(message: Request) -> str:
    return str(message.body["embeds"][0]["title"])


def description(message: Request) -> str:
    return str(message.body["embeds"][0]["description"])


def assert_discord_accepts(hook: DiscordWebhook, *allowed: int) -> None:
    """Every request the stand-in got was a message Discord posts (or a status we caused)."""
    for request in hook.requests:
        assert request.status == 204 or request.status in allowed, request
        if request.status == 204:
            assert check_message(request.body) is None


def _rule_file(directory: Path) -> Path:
    """The compressed mixin's DbsbmHostMemoryHigh rules alone (others would fire on no data)."""
    for path, text in mixin_prometheus.rule_files(time_factor=FACTOR).items():
        for group in yaml.safe_load(text)["groups"]:
            rules = [r for r in group["rules"] if r.get("alert") == ALERT]
            if rules:
                out = directory / path.name
                out.write_text(yaml.safe_dump({"groups": [{**group, "rules": rules}]}))
                assert f"{FOR:g}s" in {r["for"] for r in rules}, "FOR follows the rules"
                return out
    raise AssertionError(f"{ALERT} is not among the generated rules")


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    _HostMemory.used = {}
    target = serve_metrics(_HostMemory.exposition)
    started: list[Callable[[], None]] = [target.shutdown, target.server_close]
    try:
        hook = DiscordWebhook()
        started.append(hook.close)
        alertmanager = start_alertmanager(tmp_path / "alertmanager", hook.url, ROLE, TIMINGS)
        started.append(alertmanager.close)
        base = tmp_path / "base.yml"
        base.write_text(
            yaml.safe_dump(
                {
                    "global": {
                        "scrape_interval": f"{INTERVAL:g}s",
                        "evaluation_interval": f"{INTERVAL:g}s",
                    },
                    "rule_files": [str(_rule_file(tmp_path))],
                    "scrape_configs": [
                        {
                            "job_name": "host",
                            "static_configs": [{"targets": [f"{LOCALHOST}:{target.server_port}"]}],
                        }
                    ],
                }
            )
        )
        config = prometheus_config(tmp_path / "prometheus.yml", alertmanager.port, base)
        port = free_port()
        (tmp_path / "prometheus").mkdir()
        process = prometheus_process(tmp_path / "prometheus", port, config)
        process.start()
        started.append(process.stop)
        yield Stack(hook, alertmanager, PrometheusService(host=LOCALHOST, port=port))
    except Missing as exc:
        missing(str(exc))
    finally:
        for stop in reversed(started):
            stop()


def test_firing_grouped_repeated_only_after_repeat_interval_then_resolved(stack: Stack) -> None:
    """Two hosts over the warning line: one message for both, on time; its repeat waits
    for repeat_interval; recovery sends one resolved message for both."""
    stack.set_used(h1=0.5, h2=0.5)
    time.sleep(2 * INTERVAL)  # Prometheus has seen the healthy value
    condition = stack.set_used(h1=0.85, h2=0.86)
    [firing] = stack.wait_messages(1, FIRING_BOUND + 5)
    latency = firing.received - condition
    # Prometheus sends the time the alert fired as startsAt: the Alertmanager half apart.
    fired = min(
        datetime.fromisoformat(a["startsAt"]).timestamp() for a in stack.alertmanager.alerts()
    )
    print(
        f"\ncondition true -> Discord stand-in: {latency:.1f} s (bound {FIRING_BOUND:g} s); "
        f"condition -> fired in Prometheus {fired - condition:.1f} s, "
        f"fired -> Discord {firing.received - fired:.1f} s"
    )
    assert FOR <= latency <= FIRING_BOUND
    assert firing.received - fired <= GROUP_WAIT + SLACK
    assert title(firing) == f"[FIRING:2] {ALERT} (warning)"
    text = description(firing)
    assert "Memory on h1 is 85% used" in text and "Memory on h2 is 86% used" in text
    assert "**WARNING**" in text and f"<@&{ROLE}>" not in text  # warnings mention no one
    assert firing.body["embeds"][0]["color"] == 0x992D22

    # Several group_interval ticks pass with nothing new; the repeat comes at repeat_interval.
    _, repeat = stack.wait_messages(2, REPEAT_INTERVAL + GROUP_INTERVAL + SLACK)
    gap = repeat.received - firing.received
    print(f"repeat after {gap:.1f} s (repeat_interval {REPEAT_INTERVAL:g} s)")
    assert REPEAT_INTERVAL <= gap <= REPEAT_INTERVAL + GROUP_INTERVAL + SLACK
    assert title(repeat) == title(firing)

    recovered = stack.set_used(h1=0.5, h2=0.5)
    *_, resolved = stack.wait_messages(3, RESOLVED_BOUND + 5)
    latency = resolved.received - recovered
    print(f"condition false -> resolved message: {latency:.1f} s (bound {RESOLVED_BOUND:g} s)")
    assert latency <= RESOLVED_BOUND
    assert title(resolved) == f"[RESOLVED] {ALERT} (warning)"
    assert "h1" in description(resolved) and "h2" in description(resolved)
    assert resolved.body["embeds"][0]["color"] == 0x2ECC71
    assert len(stack.hook.messages) == 3
    assert_discord_accepts(stack.hook)


def test_many_instances_fit_one_discord_message(stack: Stack) -> None:
    """Forty hosts at once: one message naming the count, within Discord's limits."""
    hosts = 40
    stack.set_used(**{f"host-{i:02}-{'x' * 40}": 0.85 for i in range(hosts)})
    [firing] = stack.wait_messages(1, FIRING_BOUND + 5)
    assert title(firing) == f"[FIRING:{hosts}] {ALERT} (warning)"
    assert f"of {hosts} shown" in description(firing)
    assert_discord_accepts(stack.hook)


def test_critical_inhibits_its_warning_and_mentions_the_role(stack: Stack) -> None:
    """At 95 % both rules fire; Discord gets the critical alone, with the role mention."""
    stack.set_used(h1=0.95)
    [critical] = stack.wait_messages(1, FIRING_BOUND + 5)
    assert title(critical) == f"[FIRING:1] {ALERT} (critical)"
    assert description(critical).startswith(f"<@&{ROLE}>\n**CRITICAL**")
    # The warning fired in Prometheus at the same evaluation and is held back.
    warnings = stack.alertmanager.alerts(filter='severity="warning"')
    assert [a["status"]["state"] for a in warnings] == ["suppressed"]
    assert warnings[0]["status"]["inhibitedBy"]
    time.sleep(3 * GROUP_INTERVAL)
    assert [title(m) for m in stack.hook.messages] == [title(critical)]
    assert_discord_accepts(stack.hook)


def test_429_is_retried_and_nothing_is_lost(stack: Stack) -> None:
    """Two groups notify at once into a bucket of one message per window: the second is
    refused with 429 and Alertmanager sends it again until Discord takes it, once."""
    window = 2 * GROUP_INTERVAL + 1
    stack.hook.rate_limit(1, window)
    condition = stack.set_used(h1=0.85, h2=0.95)  # h1: warning; h2: critical (warning inhibited)
    first, second = stack.wait_messages(2, FIRING_BOUND + window + GROUP_INTERVAL + 5)
    refused = [r for r in stack.hook.requests if r.status == 429]
    assert refused, "the rate limit refused nothing"
    assert all(isinstance(r.response["retry_after"], float) for r in refused)
    # Alertmanager 0.25 does not read retry_after: it sends again at the group's next
    # group_interval tick, so the message waits at most one tick past the bucket's refill.
    assert second.received - first.received <= window + GROUP_INTERVAL + SLACK
    assert sorted(title(m) for m in (first, second)) == [
        f"[FIRING:1] {ALERT} (critical)",
        f"[FIRING:1] {ALERT} (warning)",
    ]
    print(
        f"\n{len(refused)} x 429, last message {second.received - condition:.1f} s "
        "after the condition"
    )
    time.sleep(2 * GROUP_INTERVAL)
    assert len(stack.hook.messages) == 2, "a refused message was sent twice"
    assert_discord_accepts(stack.hook, 429)
