"""Zero-code path: ``opentelemetry-instrument python bot.py`` runs our distro and configurator.

The bot below sets up logging exactly as DBSBM does (``logging.basicConfig`` with its own
file handler, after start-up); it must still get its lines while logs and spans are
exported. Exports go to the OTLP stand-in receiver (tests/bootstrap/support.py).
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from pathlib import Path

import pytest

from dbsbm_instrumentation import distro
from tests.bootstrap.support import (
    SDK_READ_MALFORMED,
    OtlpHttpStandIn,
    assert_ran_with_one_line_naming,
    attributes,
    run_python,
)

BOT = """
    import logging, sys
    from opentelemetry import trace

    logging.basicConfig(
        level=logging.INFO,
        handlers=[logging.FileHandler(sys.argv[0] + ".log")],
        format="%(levelname)s %(name)s %(message)s",
    )
    with trace.get_tracer("bot").start_as_current_span("command.bet"):
        logging.getLogger("bot.cogs.betting").info("bet placed")
    print("root handlers:", len(logging.getLogger().handlers))
"""


# An aiohttp GET with the API key in the query, to a loopback aiohttp server in the bot.
API_KEY = "SECRETVALUE123"
AIOHTTP_BOT = f"""
    import asyncio, os
    import aiohttp
    from aiohttp import web

    async def odds(request):
        return web.json_response({{"odds": 2.5}})

    async def main():
        app = web.Application()
        app.router.add_get("/odds", odds)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port = runner.addresses[0][1]
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{{port}}/odds?key={API_KEY}") as response:
                print("status:", response.status)
        await runner.cleanup()

    asyncio.run(main())
    print("opt-in:", os.environ.get("OTEL_SEMCONV_STABILITY_OPT_IN"))
"""


def _instrument() -> str:
    path = shutil.which("opentelemetry-instrument")
    assert path is not None, "opentelemetry-instrument comes with opentelemetry-instrumentation"
    return path


def _env(stand_in: OtlpHttpStandIn, **extra: str) -> dict[str, str]:
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": stand_in.endpoint,
        "OTEL_SERVICE_NAME": "dbsbm-zero-code",
        "OTEL_METRIC_EXPORT_INTERVAL": "200",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_BLRP_SCHEDULE_DELAY": "100",
        **extra,
    }


def test_bots_own_basicconfig_file_handler_still_gets_its_lines(
    tmp_path: Path,
    otlp_stand_in: OtlpHttpStandIn,
) -> None:
    """basicConfig with the bot's FileHandler is not a no-op under opentelemetry-instrument."""
    result = run_python(tmp_path, BOT, _env(otlp_stand_in), _instrument())
    assert result.returncode == 0, result.stderr
    assert "root handlers: 1" in result.stdout
    assert (tmp_path / "bot.py.log").read_text() == "INFO bot.cogs.betting bet placed\n"


def test_logs_and_spans_are_exported_with_our_resource(
    tmp_path: Path,
    otlp_stand_in: OtlpHttpStandIn,
) -> None:
    """Our configurator ran: records and spans arrive with dbsbm's resource, correlated."""
    result = run_python(tmp_path, BOT, _env(otlp_stand_in, DBSBM_ENV="development"), _instrument())
    assert result.returncode == 0, result.stderr
    otlp_stand_in.wait_for("/v1/logs")
    otlp_stand_in.wait_for("/v1/traces")
    for path in ("/v1/logs", "/v1/traces"):
        resource = otlp_stand_in.resources(path)[0]
        assert resource["service.name"] == "dbsbm-zero-code"
        assert resource["telemetry.distro.name"] == "dbsbm"
        assert resource["deployment.environment.name"] == "development"
    (record,) = [r for r in otlp_stand_in.log_records() if r.body.string_value == "bet placed"]
    (span,) = [s for s in otlp_stand_in.spans() if s.name == "command.bet"]
    assert record.trace_id == span.trace_id


def test_disabled_instrumentations_are_respected(
    tmp_path: Path,
    otlp_stand_in: OtlpHttpStandIn,
) -> None:
    """OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=logging,system_metrics turns both of ours off."""
    result = run_python(
        tmp_path,
        BOT + "    import time; time.sleep(0.5)\n",
        _env(otlp_stand_in, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="logging,system_metrics"),
        _instrument(),
    )
    assert result.returncode == 0, result.stderr
    otlp_stand_in.wait_for("/v1/traces")
    assert (tmp_path / "bot.py.log").read_text() == "INFO bot.cogs.betting bet placed\n"
    assert not list(otlp_stand_in.log_records())
    assert not [n for n in otlp_stand_in.metric_names() if n.startswith("process.")]


def test_process_metrics_only_by_default(tmp_path: Path, otlp_stand_in: OtlpHttpStandIn) -> None:
    """The upstream system_metrics instrumentor is replaced: process.* series, no system.*."""
    result = run_python(
        tmp_path, BOT + "    import time; time.sleep(0.5)\n", _env(otlp_stand_in), _instrument()
    )
    assert result.returncode == 0, result.stderr
    otlp_stand_in.wait_for("/v1/metrics")
    names = otlp_stand_in.metric_names()
    assert "process.memory.usage" in names
    assert not [n for n in names if n.startswith("system.")]


@pytest.mark.parametrize("disabled", ["", "logging"], ids=["otlp-logs", "no-otlp-logs"])
def test_bots_own_file_handler_gets_redacted_lines(
    tmp_path: Path,
    otlp_stand_in: OtlpHttpStandIn,
    disabled: str,
) -> None:
    """A secret logged by the bot is masked in its own basicConfig file, OTLP log export or not."""
    bot = """
        import logging, sys
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s",
                            handlers=[logging.FileHandler(sys.argv[0] + ".log")])
        logging.getLogger("bot.db").info("connecting with password=%s to %s", "hunter2",
                                         "mysql://u:pw@db/x")
    """
    result = run_python(
        tmp_path,
        bot,
        _env(otlp_stand_in, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=disabled),
        _instrument(),
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "bot.py.log").read_text() == (
        "INFO connecting with password=**** mysql://u:****@db/x\n"
    )


def _exported_bytes(stand_in: OtlpHttpStandIn, *paths: str) -> bytes:
    return b"".join(m.SerializeToString() for p, m in list(stand_in.requests) if p in paths)


def test_aiohttp_client_gets_stable_metrics_and_no_query_string(
    tmp_path: Path,
    otlp_stand_in: OtlpHttpStandIn,
) -> None:
    """By default contrib aiohttp-client exports http.client.request.duration and no query key."""
    result = run_python(tmp_path, AIOHTTP_BOT, _env(otlp_stand_in), _instrument())
    assert result.returncode == 0, result.stderr
    assert "status: 200" in result.stdout
    assert "opt-in: http\n" in result.stdout
    otlp_stand_in.wait_for("/v1/traces")
    otlp_stand_in.wait_for("/v1/metrics")
    assert "http.client.request.duration" in otlp_stand_in.metric_names()
    (span,) = [s for s in otlp_stand_in.spans() if s.kind == s.SPAN_KIND_CLIENT]
    url = attributes(span.attributes)["url.full"]
    assert url.startswith("http://127.0.0.1:") and url.endswith("/odds"), url
    # Every span name, attribute and event, and every metric attribute, as sent.
    assert API_KEY.encode() not in _exported_bytes(otlp_stand_in, "/v1/traces", "/v1/metrics")


def test_users_semconv_opt_in_is_not_overwritten(
    tmp_path: Path,
    otlp_stand_in: OtlpHttpStandIn,
) -> None:
    """OTEL_SEMCONV_STABILITY_OPT_IN=http/dup set by the user wins: old and new metrics both."""
    result = run_python(
        tmp_path,
        AIOHTTP_BOT,
        _env(otlp_stand_in, OTEL_SEMCONV_STABILITY_OPT_IN="http/dup"),
        _instrument(),
    )
    assert result.returncode == 0, result.stderr
    assert "opt-in: http/dup\n" in result.stdout
    otlp_stand_in.wait_for("/v1/metrics")
    names = otlp_stand_in.metric_names()
    assert {"http.client.duration", "http.client.request.duration"} <= names
    assert API_KEY.encode() not in _exported_bytes(otlp_stand_in, "/v1/traces", "/v1/metrics")


def test_distro_defaults_semconv_opt_in_to_http_unless_the_user_chose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DbsbmDistro sets OTEL_SEMCONV_STABILITY_OPT_IN=http only when it is unset."""
    monkeypatch.delenv("OTEL_PYTHON_CONFIGURATOR", raising=False)
    monkeypatch.delenv("OTEL_SEMCONV_STABILITY_OPT_IN", raising=False)
    distro.DbsbmDistro().configure()
    assert os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] == "http"
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "database")
    distro.DbsbmDistro().configure()
    assert os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] == "database"


def test_distro_selects_our_configurator_unless_the_user_chose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DbsbmDistro sets OTEL_PYTHON_CONFIGURATOR=dbsbm only when it is unset."""
    monkeypatch.delenv("OTEL_PYTHON_CONFIGURATOR", raising=False)
    monkeypatch.delenv("OTEL_SEMCONV_STABILITY_OPT_IN", raising=False)  # configure() sets it
    distro.DbsbmDistro().configure()
    assert os.environ["OTEL_PYTHON_CONFIGURATOR"] == "dbsbm"
    monkeypatch.setenv("OTEL_PYTHON_CONFIGURATOR", "other")
    distro.DbsbmDistro().configure()
    assert os.environ["OTEL_PYTHON_CONFIGURATOR"] == "other"


def test_distro_skips_the_upstream_instrumentors_it_replaces() -> None:
    """load_instrumentor never loads upstream logging or system_metrics."""

    class EntryPoint:
        def __init__(self, name: str) -> None:
            self.name = name

        def load(self) -> object:
            raise AssertionError(f"{self.name} must not be loaded")

    for name in distro.REPLACED_INSTRUMENTORS:
        distro.DbsbmDistro().load_instrumentor(EntryPoint(name))


def test_our_distro_and_configurator_are_the_registered_entry_points() -> None:
    """opentelemetry-instrument finds dbsbm in both entry-point groups."""
    from importlib.metadata import entry_points

    assert "dbsbm" in {e.name for e in entry_points(group="opentelemetry_distro")}
    assert "dbsbm" in {e.name for e in entry_points(group="opentelemetry_configurator")}


# OTEL_PROPAGATORS is left out: opentelemetry-instrument itself imports
# opentelemetry.propagate (auto_instrumentation -> instrumentation.utils) and dies on an
# unknown propagator before it starts the bot, so no distro can report it.
@pytest.mark.parametrize(
    ("variable", "value", "extra"),
    [case for case in SDK_READ_MALFORMED if case[0] != "OTEL_PROPAGATORS"],
)
def test_malformed_sdk_setting_gives_one_line_naming_it(
    tmp_path: Path,
    otlp_stand_in: OtlpHttpStandIn,
    variable: str,
    value: str,
    extra: dict[str, str],
) -> None:
    """Zero-code: one line naming the variable, no traceback, the bot runs and exports."""
    result = run_python(
        tmp_path,
        """
        from opentelemetry import trace
        with trace.get_tracer("bot").start_as_current_span("still"):
            print("still running")
    """,
        _env(otlp_stand_in, **extra, **{variable: value}),
        _instrument(),
    )
    assert_ran_with_one_line_naming(result, variable)
    otlp_stand_in.wait_for("/v1/traces")


def test_unreachable_collector_exits_promptly_without_traceback(tmp_path: Path) -> None:
    """Zero-code, nothing listening: the bot runs, exits within 5 s wall, no traceback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    started = time.monotonic()
    result = run_python(
        tmp_path,
        """
        import logging
        from opentelemetry import trace
        tracer = trace.get_tracer("bot")
        for i in range(200):
            with tracer.start_as_current_span("command.bet"):
                logging.getLogger("bot").warning("bet %d", i)
        print("done", flush=True)
    """,
        {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{closed}"},
        _instrument(),
        timeout=30,
    )
    wall = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert "done" in result.stdout
    assert "Traceback" not in result.stderr
    assert wall < 5, f"took {wall:.1f} s"
