"""Config: defaults, environment overrides, and one exact error per invalid file."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from dbsbm_agent import config as agent_config
from dbsbm_agent.cli import main
from dbsbm_agent.config import AgentConfig, ConfigError, load_config
from dbsbm_instrumentation import slo

from .configs import largest_config
from .conftest import TESTDATA

# file -> "key: message" after "config error: <file>: "
BAD_CONFIGS = {
    "invalid-timeout-negative.yaml": "probes.redis.timeout: must be a positive number, got -1",
    "invalid-unknown-key.yaml": "probes.redis.tiemout: unknown key for a redis probe",
    "invalid-unknown-top-level-key.yaml": "lsiten: unknown key",
    "invalid-unknown-kind.yaml": "probes.cache.kind: unknown probe kind 'memcached' "
    "(known: discord, host, http, mysql, redis)",
    "invalid-missing-kind.yaml": "probes.cache.kind: "
    "required (the name 'cache' is not a probe kind)",
    "invalid-option-of-other-kind.yaml": "probes.redis.expected_status: "
    "unknown key for a redis probe",
    "invalid-depends-on-unknown.yaml": "probes.mysql.depends_on: unknown probe 'redsi'",
    "invalid-dependency-cycle.yaml": "probes.mysql.depends_on: "
    "dependency cycle mysql -> redis -> mysql",
    "invalid-timeout-above-interval.yaml": "probes.redis.timeout: "
    "must not exceed the interval (2), got 5",
    "invalid-http-without-url.yaml": "probes.api_sports.url: required for kind http",
    "invalid-expected-status.yaml": "probes.api_sports.expected_status: "
    "must be a list of HTTP status codes 100-599, got [200, 700]",
    "invalid-listen.yaml": "listen: must be HOST:PORT, got '9464'",
    "invalid-host-ratios.yaml": "probes.host.warn_ratio: must be below fail_ratio (0.9), got 0.95",
    "invalid-redis-url.yaml": "probes.redis.url: must be a redis://HOST:PORT/DB URL",
    "invalid-no-probes.yaml": "probes: must name at least one probe",
    "invalid-not-a-mapping.yaml": "must be a mapping with a 'probes' key, got a list",
    "invalid-yaml-syntax.yaml": "line 4: invalid YAML: did not find expected ',' or ']'",
    "invalid-required-not-bool.yaml": "probes.redis.required: must be true or false, got 'yes'",
    "invalid-not-utf8.yaml": "not UTF-8: byte 0xff at offset 0",
    "invalid-interval-nan.yaml": "probes.redis.interval: must be a positive number, got .nan",
    "invalid-timeout-inf.yaml": "probes.redis.timeout: must be a positive number, got .inf",
    "invalid-ratio-nan.yaml": "probes.host.warn_ratio: must be a ratio between 0 and 1, got .nan",
    "invalid-duplicate-key.yaml": "line 5: invalid YAML: "
    "duplicate key 'interval' (first on line 3)",
    "invalid-duplicate-probe.yaml": "line 4: invalid YAML: duplicate key 'mysql' (first on line 2)",
    "invalid-probe-name.yaml": "probes: probe name 'cache:primary' "
    "may only use letters, digits, '_', '.' and '-'",
    # Limits: hostile or mistaken files end in one line, quickly.
    "invalid-nesting-too-deep.yaml": "line 3: invalid YAML: nested deeper than 32 levels, "
    "aliases included",
    "invalid-alias-bomb.yaml": "line 6: invalid YAML: more than 50000 nodes, "
    "counting each alias as the nodes it repeats",
    "invalid-alias-recursive.yaml": "line 2: invalid YAML: alias *probes is inside the node "
    "it refers to",
    "invalid-too-large.yaml": "too large: 262259 bytes (at most 262144)",
    "invalid-too-many-probes.yaml": "probes: at most 1000 probes, got 1001",
    "invalid-interval-too-small.yaml": "probes.redis.interval: must be at least 0.1 s, got 1e-300",
    "invalid-interval-too-large.yaml": "probes.redis.interval: must be at most 86400 s, got 1e+06",
    "invalid-timeout-too-small.yaml": "probes.redis.timeout: must be at least 0.01 s, got 0.001",
    "invalid-probe-name-too-long.yaml": "probes: probe name of 101 characters (at most 100): "
    f"'{'p' * 76}...",
    "invalid-integer-too-long.yaml": "line 3: invalid YAML: Exceeds the limit (4300 digits) "
    "for integer string conversion: value has 5000 digits",
    "invalid-date.yaml": "line 3: invalid YAML: month must be in 1..12",
    "invalid-control-character.yaml": "line 2: invalid YAML: unacceptable character #x0001: "
    "control characters are not allowed",
}


def test_every_invalid_fixture_is_in_the_table() -> None:
    """Each testdata/invalid-*.yaml has its expected message below, and vice versa."""
    assert sorted(p.name for p in TESTDATA.glob("invalid-*.yaml")) == sorted(BAD_CONFIGS)


@pytest.mark.parametrize("name", sorted(BAD_CONFIGS))
def test_bad_config(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Each bad file fails with its exact one-line message, and the CLI exits 2 with it."""
    path = TESTDATA / name
    expected = f"config error: {path}: {BAD_CONFIGS[name]}"
    started = time.perf_counter()
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert time.perf_counter() - started < 1.0
    assert str(caught.value) == expected
    assert main(["--config", str(path), "--check-config"]) == 2
    assert capsys.readouterr().err == expected + "\n"


def test_cli_subprocess_prints_one_line_without_traceback() -> None:
    """Run as a real process, a bad file gives exactly one stderr line and exit code 2."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dbsbm_agent.cli",
            "--config",
            "invalid-timeout-negative.yaml",
            "--check-config",
        ],
        cwd=TESTDATA,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith(("MYSQL_", "REDIS_"))},
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "config error: invalid-timeout-negative.yaml: probes.redis.timeout: "
        "must be a positive number, got -1\n"
    )


@pytest.mark.parametrize(
    ("make", "what"),
    [
        (os.mkfifo, "a FIFO"),  # opening one would wait for a writer
        (os.mkdir, "a directory"),
    ],
)
def test_only_regular_files_are_read(
    make: Callable[[Path], None], what: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A FIFO or a directory as the config is refused before it is opened, exit 2."""
    path = tmp_path / "agent.yaml"
    make(path)
    assert main(["--config", str(path), "--check-config"]) == 2
    assert capsys.readouterr().err == f"config error: {path}: not a regular file ({what})\n"
    assert main(["--config", "/dev/zero", "--check-config"]) == 2
    assert capsys.readouterr().err == "config error: /dev/zero: not a regular file (a device)\n"


def test_largest_accepted_config_loads(tmp_path: Path) -> None:
    """A file at the probe limit, near the size limit, loads within a second."""
    path = tmp_path / "agent.yaml"
    path.write_text(largest_config())
    assert path.stat().st_size <= agent_config.MAX_FILE_BYTES
    started = time.perf_counter()
    config = load_config(path, {})
    assert time.perf_counter() - started < 1.0
    assert len(config.probes) == agent_config.MAX_PROBES


def test_missing_file_and_bad_arguments_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unreadable file and a bad --listen are one line each, exit code 2."""
    assert main(["--config", "/nonexistent/agent.yaml"]) == 2
    assert capsys.readouterr().err == (
        "config error: /nonexistent/agent.yaml: cannot read: No such file or directory\n"
    )
    good = str(TESTDATA.parent.parent.parent / "agent/agent.example.yaml")
    monkeypatch.setenv("API_SPORTS_KEY", "test")
    assert main(["--config", good, "--listen", "localhost", "--check-config"]) == 2
    assert capsys.readouterr().err == (
        "dbsbm-agent: error: --listen: must be HOST:PORT, got 'localhost'\n"
    )
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        "dbsbm-agent: error: the following arguments are required: --config\n"
    )


def test_shipped_configs_are_valid(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """agent.example.yaml and deploy/agent/agent.yaml pass --check-config."""
    monkeypatch.setenv("API_SPORTS_KEY", "test")
    repo = TESTDATA.parent.parent.parent
    for path in (repo / "agent/agent.example.yaml", repo / "deploy/agent/agent.yaml"):
        assert main(["--config", str(path), "--check-config"]) == 0, capsys.readouterr().err
        assert capsys.readouterr().out.startswith(f"config ok: {path}: ")


def test_defaults_come_from_constants(make_config: Callable[..., AgentConfig]) -> None:
    """Intervals, timeouts and ratios default to each kind's constants, latency limits to SLOs."""
    config = make_config("""
        probes:
          mysql: {}
          redis: {}
          host: {}
          discord: {}
    """)
    for name in ("mysql", "redis", "host", "discord"):
        probe = config.probes[name]
        assert probe.interval == agent_config.PROBE_INTERVAL_SECONDS[name]
        assert probe.timeout == agent_config.PROBE_TIMEOUT_SECONDS
    assert config.probes["host"].settings.warn_ratio == agent_config.RESOURCE_WARN_RATIO
    assert config.probes["host"].settings.fail_ratio == agent_config.RESOURCE_FAIL_RATIO
    assert config.probes["mysql"].settings.latency_warn == slo.DB_QUERY_P95_MAX_SECONDS
    assert [n for n, p in config.probes.items() if p.required] == ["mysql", "discord"]
    assert config.listen == "127.0.0.1:9464"
    assert config.probes["discord"].target == "https://discord.com/api/v10"


def test_environment_overrides_the_file(make_config: Callable[..., AgentConfig]) -> None:
    """DBSBM's MYSQL_*, REDIS_* and DISCORD_TOKEN win over the file; secrets stay hidden."""
    config = make_config(
        """
        probes:
          mysql: {host: db.example, user: file-user}
          redis: {url: "redis://cache.example:6379/0"}
          discord: {}
    """,
        {
            "MYSQL_HOST": "mysql",
            "MYSQL_PORT": "3307",
            "MYSQL_PASSWORD": "s3cret-pw",
            "MYSQL_DB": "dbsbm",
            "REDIS_URL": "redis://:redis-pw@redis:6380/2",
            "DISCORD_TOKEN": "tok.en.value",
        },
    )
    mysql, redis, discord = (config.probes[n] for n in ("mysql", "redis", "discord"))
    mysql_settings, redis_settings = mysql.settings, redis.settings
    assert (
        mysql.target,
        mysql_settings.user,
        mysql_settings.password,
        mysql_settings.database,
    ) == (
        "mysql:3307",
        "file-user",
        "s3cret-pw",
        "dbsbm",
    )
    assert (redis.target, redis_settings.password, redis_settings.db) == (
        "redis://redis:6380/2",
        "redis-pw",
        2,
    )
    assert discord.settings.token == "tok.en.value"
    shown = repr(config)
    for secret in ("s3cret-pw", "redis-pw", "tok.en.value"):
        assert secret not in shown

    config = make_config(
        "probes: {redis: {}}",
        {"REDIS_HOST": "redis", "REDIS_PORT": "6390", "REDIS_DB": "3", "REDIS_PASSWORD": "pw"},
    )
    assert config.probes["redis"].target == "redis://redis:6390/3"


def test_bad_environment_value_names_the_variable(
    make_config: Callable[..., AgentConfig],
) -> None:
    """A malformed MYSQL_PORT is reported by its variable name, with no secret shown."""
    with pytest.raises(ConfigError) as caught:
        make_config("probes: {mysql: {}}", {"MYSQL_PORT": "abc"})
    assert str(caught.value) == (
        "config error: environment: MYSQL_PORT: must be a port number 1-65535, got 'abc'"
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        # '²' passes str.isdigit() but not int()
        ("MYSQL_PORT", "\u00b2", "must be a port number 1-65535, got '\u00b2'"),
        ("REDIS_PORT", "\u00b2", "must be a port number 1-65535, got '\u00b2'"),
        ("REDIS_DB", "\u00b2", "must be a number, got '\u00b2'"),
        ("REDIS_URL", "redis://:pw@h:abc/0", "must be a redis://HOST:PORT/DB URL"),
        ("REDIS_URL", "redis://h:70000/0", "must be a redis://HOST:PORT/DB URL"),
        ("REDIS_URL", "redis://h/x", "must be a redis://HOST:PORT/DB URL"),
        ("REDIS_URL", "redis://h/\u00b2", "must be a redis://HOST:PORT/DB URL"),
    ],
)
def test_bad_port_or_db_in_environment_names_the_variable(
    variable: str,
    value: str,
    message: str,
    make_config: Callable[..., AgentConfig],
) -> None:
    """Ports and db numbers from the environment are checked, and blamed on the variable."""
    with pytest.raises(ConfigError) as caught:
        make_config("probes: {mysql: {}, redis: {}}", {variable: value})
    assert str(caught.value) == f"config error: environment: {variable}: {message}"


def test_merge_keys_may_still_be_overridden(make_config: Callable[..., AgentConfig]) -> None:
    """Duplicate keys are errors, but a key set over a ``<<: *anchor`` merge is not one."""
    config = make_config("""
        probes:
          redis: &fast {interval: 5, timeout: 1}
          cache: {<<: *fast, kind: redis, interval: 2}
    """)
    assert (config.probes["cache"].interval, config.probes["cache"].timeout) == (2, 1)


def test_http_target_hides_query_and_credentials(
    make_config: Callable[..., AgentConfig],
) -> None:
    """The displayed target of an http probe drops userinfo and the query string."""
    config = make_config(
        """
        probes:
          weather:
            kind: http
            url: "https://user:pw@api.weatherapi.com/v1/current.json?key=abc123&q=London"
            headers_from_env: {x-apisports-key: API_KEY}
    """,
        {"API_KEY": "k"},
    )
    probe = config.probes["weather"]
    assert probe.target == "https://api.weatherapi.com/v1/current.json"
    assert probe.settings.headers == {"x-apisports-key": "k"}
    assert "abc123" not in repr(probe)
