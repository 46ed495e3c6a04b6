"""``dbsbm-status`` against a real Prometheus that runs the mixin's (time-compressed) rules.

A stand-in target serves the bot's series, growing as a running bot's would; Prometheus
scrapes it every second and evaluates the same recording and alerting rules it ships
with, every duration divided by :data:`FACTOR`, so the status command reads series that
Prometheus' own rules produced.
"""

from __future__ import annotations

import math
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from dbsbm_agent import status
from dbsbm_instrumentation import slo
from dbsbm_mixin import prometheus as mixin_prometheus
from tests.exposition import serve_metrics
from tests.services import LOCALHOST, REPO, PrometheusService, free_port

FACTOR = 60
RULES = REPO / "deploy/prometheus/rules"
JOB = "dbsbm"
API_HOST = "odds.example"


def recorded_series() -> set[str]:
    return {
        rule["record"]
        for path in RULES.glob("*.yml")
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "record" in rule
    }


def test_every_series_queried_is_a_generated_recording_rule() -> None:
    """The status command reads only series the mixin's recording rules produce."""
    assert status.SERIES, "the command queries nothing"
    missing = set(status.SERIES) - recorded_series()
    assert not missing, f"not a record: in {RULES.relative_to(REPO)}: {sorted(missing)}"


def test_console_script_is_declared() -> None:
    """``dbsbm-status`` is installed with the package, pointing at this module."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["dbsbm-status"] == "dbsbm_agent.status:main"


def test_budget_left_is_the_unspent_share() -> None:
    """Budget left is 1 - error ratio / allowed ratio; no commands and no data say so."""
    allowed = slo.ERROR_RATIO_MAX
    lines = status.budget_lines(
        [
            status.Sample({"job": "a"}, allowed / 4),
            status.Sample({"job": "b"}, math.nan),
            status.Sample({"job": "c"}, allowed * 3),
        ]
    )
    assert lines[1].split() == ["job=a", "75.0", "%"]
    assert lines[2].endswith("no commands")
    assert lines[3].endswith("none: errors at 3x the allowed rate")
    assert status.budget_lines([])[1:] == ["  no data"]


def test_target_verdicts() -> None:
    """A max target is met at or below it, a min target at or above; NaN is no traffic."""
    cache = next(t for t in status.TARGETS if t.kind == "min")
    db = next(t for t in status.TARGETS if t.unit == "seconds")
    assert status.target_lines(cache, [status.Sample({}, cache.threshold)])[0].endswith("ok")
    assert status.target_lines(db, [status.Sample({}, db.threshold * 2)])[0].endswith("BREACHED")
    (quiet,) = status.target_lines(db, [status.Sample({}, math.nan)])
    assert "no traffic" in quiet and quiet.endswith("-")


def run_status(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dbsbm_agent.status", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "url",
    ["not a url", "ftp://127.0.0.1/", "http://", "http://{LOCALHOST}:{free port}"],
)
def test_bad_or_unreachable_prometheus_is_one_line_and_exit_2(url: str) -> None:
    """A bad URL or nothing listening: one line naming the URL, exit code 2, no traceback."""
    # The free port is picked here, not in the test's name: parallel workers must collect
    # the same tests.
    url = url.replace("{LOCALHOST}:{free port}", f"{LOCALHOST}:{free_port()}")
    result = run_status("--prometheus", url)
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("dbsbm-status: error: ")
    assert url.rstrip("/") in line


COMMAND = 'dbsbm_discord_command_name="odds",dbsbm_discord_command_type="slash"'
DB = "db_client_operation_duration_seconds_bucket"
API = f'http_client_request_duration_seconds_bucket{{server_address="{API_HOST}",'
CACHE = 'dbsbm_cache_operations_total{dbsbm_cache_operation="get",'
# (series, increase per second): 2 % of commands fail, queries take about 23 ms, API
# calls about 480 ms, 95 % of cache gets hit.
BOT_SERIES = (
    (f"dbsbm_discord_command_duration_seconds_count{{{COMMAND}}}", 100),
    (f'dbsbm_discord_command_errors_total{{{COMMAND},error_type="TimeoutError"}}', 2),
    (f'{DB}{{le="0.005"}}', 50),
    (f'{DB}{{le="0.025"}}', 100),
    (f'{DB}{{le="+Inf"}}', 100),
    (f'{API}le="0.1"}}', 0),
    (f'{API}le="0.5"}}', 100),
    (f'{API}le="+Inf"}}', 100),
    (f'{CACHE}dbsbm_cache_result="hit"}}', 95),
    (f'{CACHE}dbsbm_cache_result="miss"}}', 5),
)


_STARTED = time.monotonic()


def _bot_series() -> str:
    """The bot's series as Prometheus would store them, growing as a running bot's do."""
    elapsed = time.monotonic() - _STARTED
    return "".join(f"{name} {rate * elapsed}\n" for name, rate in BOT_SERIES)


@pytest.fixture
def bot_target() -> Iterator[str]:
    server = serve_metrics(_bot_series)
    try:
        yield f"{LOCALHOST}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def live_prometheus(
    prometheus_factory: Callable[..., PrometheusService], bot_target: str, tmp_path: Path
) -> PrometheusService:
    rules = tmp_path / "rules"
    rules.mkdir()
    for path, text in mixin_prometheus.rule_files(time_factor=FACTOR).items():
        (rules / path.name).write_text(text)
    config = tmp_path / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(rules / "*.yml")],
                "scrape_configs": [
                    {"job_name": JOB, "static_configs": [{"targets": [bot_target]}]}
                ],
            }
        )
    )
    return prometheus_factory(config)


def line_of(text: str, *parts: str) -> str:
    found = [line for line in text.splitlines() if all(part in line for part in parts)]
    assert len(found) == 1, f"expected one line with {parts} in:\n{text}"
    return found[0]


@pytest.mark.integration
def test_status_reads_the_rules_output(
    live_prometheus: PrometheusService, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each target against its threshold, the budget left and the firing burn-rate alert,
    once Prometheus' rules have produced them."""
    deadline = time.monotonic() + 90
    while True:
        assert status.main(["--prometheus", live_prometheus.url]) == 0
        text = capsys.readouterr().out
        if "no data" not in text and "firing   critical  DbsbmCommandErrorBudgetBurn" in text:
            break
        assert time.monotonic() < deadline, f"rules never produced it all:\n{text}"
        time.sleep(1)
    print(text)  # shown with -s: what an operator sees
    errors = line_of(text, "command error ratio", f"job={JOB}")
    assert "2 %" in errors and errors.endswith("BREACHED")
    assert line_of(text, "database p95", f"job={JOB}").endswith("ok")
    assert line_of(text, "external API p95", f"server_address={API_HOST}").endswith("BREACHED")
    assert line_of(text, "cache hit ratio", f"job={JOB}", "95 %").endswith("ok")
    assert "none: errors at 20x the allowed rate" in line_of(text, f"job={JOB}", "none:")
    assert "Error budget left (command errors, 3d window" in text


@pytest.mark.integration
def test_not_prometheus_is_one_line_and_exit_2(bot_target: str) -> None:
    """Something that answers but is not Prometheus' API: one line, exit code 2."""
    result = run_status("--prometheus", f"http://{bot_target}")
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert "HTTP 404" in line
