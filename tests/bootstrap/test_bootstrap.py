"""configure_telemetry: exports, resource, bad settings, outages and a bounded exit.

Telemetry set-up is global and once per process, so each scenario runs a small bot in
its own interpreter; what it exported is read from the OTLP stand-in receiver.
"""

from __future__ import annotations

import os
import re
import socket
import time
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.resources import OTELResourceDetector

from dbsbm_instrumentation import bootstrap, configurator, sdk_environ
from dbsbm_instrumentation.sdk_environ import SIGNALS
from tests.bootstrap.support import (
    SDK_READ_MALFORMED,
    OtlpHttpStandIn,
    assert_ran_with_one_line_naming,
    attributes,
    run_python,
)

BOT = """
    import logging, time
    from opentelemetry import trace
    from dbsbm_instrumentation.bootstrap import configure_telemetry

    telemetry = configure_telemetry(service_name="dbsbm-test", service_version="1.2.3")
    tracer = trace.get_tracer("bot")
    with tracer.start_as_current_span("bet.place") as span:
        span.set_attribute("db.query.text", "UPDATE users SET password='hunter2' WHERE id=1")
        logging.getLogger("bot").warning("placed with token=abc123")
    telemetry.shutdown()
"""


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_exports_traces_logs_and_process_metrics_with_our_resource(
    tmp_path: Path,
    otlp_stand_in: OtlpHttpStandIn,
) -> None:
    """Spans, log records and process.* metrics reach the endpoint with our resource."""
    result = run_python(
        tmp_path,
        BOT,
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_stand_in.endpoint,
            "OTEL_RESOURCE_ATTRIBUTES": "team=bets,region=eu",
            "DBSBM_ENV": "development",
        },
    )
    assert result.returncode == 0, result.stderr
    for path in ("/v1/traces", "/v1/logs", "/v1/metrics"):
        otlp_stand_in.wait_for(path)
        resource = otlp_stand_in.resources(path)[0]
        assert resource["service.name"] == "dbsbm-test"
        assert resource["service.version"] == "1.2.3"
        assert resource["deployment.environment.name"] == "development"
        assert resource["deployment.environment"] == "development"
        assert resource["telemetry.distro.name"] == "dbsbm"
        assert resource["team"] == "bets"
    names = otlp_stand_in.metric_names()
    assert {"process.cpu.time", "process.memory.usage"} <= names
    assert not [name for name in names if name.startswith("system.")]


def test_secrets_are_redacted_in_exported_spans_and_logs(
    tmp_path: Path,
    otlp_stand_in: OtlpHttpStandIn,
) -> None:
    """db.query.text and log bodies leave the process with their secrets masked."""
    result = run_python(tmp_path, BOT, {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp_stand_in.endpoint})
    assert result.returncode == 0, result.stderr
    otlp_stand_in.wait_for("/v1/logs")
    (span,) = [s for s in otlp_stand_in.spans() if s.name == "bet.place"]
    assert attributes(span.attributes)["db.query.text"] == (
        "UPDATE users SET password='****' WHERE id=1"
    )
    bodies = [r.body.string_value for r in otlp_stand_in.log_records()]
    assert "placed with token=****" in bodies
    (record,) = [r for r in otlp_stand_in.log_records() if "placed" in r.body.string_value]
    assert record.trace_id == span.trace_id and record.span_id == span.span_id


def test_second_call_returns_the_same_handle_and_warns(tmp_path: Path) -> None:
    """configure_telemetry is idempotent: the second call warns and returns the first handle."""
    result = run_python(
        tmp_path,
        """
        from dbsbm_instrumentation.bootstrap import configure_telemetry
        first = configure_telemetry(system_metrics=False)
        assert configure_telemetry() is first
        first.shutdown(0.5)
        print("same")
    """,
        {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{_closed_port()}"},
    )
    assert result.returncode == 0, result.stderr
    assert "same" in result.stdout
    assert "already called" in result.stderr


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_exit_is_bounded_when_the_collector_is_down(tmp_path: Path, protocol: str) -> None:
    """With nothing listening, the process exits within 2.5 s of its last line (atexit)."""
    result = run_python(
        tmp_path,
        """
        import logging, time
        from opentelemetry import trace
        from dbsbm_instrumentation.bootstrap import configure_telemetry
        configure_telemetry()
        tracer = trace.get_tracer("bot")
        for i in range(500):
            with tracer.start_as_current_span("work"):
                logging.getLogger("bot").warning("line %d", i)
        print(time.time(), flush=True)
    """,
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{_closed_port()}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
            "OTEL_EXPORTER_OTLP_TIMEOUT": "10",  # the SDK default, which used to hold exit
            "PYTHONUNBUFFERED": "1",
        },
        timeout=30,
    )
    ended = time.time()
    assert result.returncode == 0, result.stderr
    last_line = float(result.stdout.strip().splitlines()[-1])
    assert ended - last_line < 2.5
    assert "Traceback" not in result.stderr


def test_unreachable_collector_gives_one_line_per_signal(tmp_path: Path) -> None:
    """Retries are not logged one by one: one WARNING names the endpoint variable."""
    result = run_python(
        tmp_path,
        """
        import time
        from opentelemetry import trace
        from dbsbm_instrumentation.bootstrap import configure_telemetry
        telemetry = configure_telemetry(system_metrics=False, logs=False)
        tracer = trace.get_tracer("bot")
        end = time.monotonic() + 4
        while time.monotonic() < end:
            with tracer.start_as_current_span("work"):
                pass
            time.sleep(0.01)
        print("still running")
        telemetry.shutdown()
    """,
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{_closed_port()}",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "OTEL_METRICS_EXPORTER": "none",
        },
    )
    assert result.returncode == 0, result.stderr
    assert "still running" in result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in lines[0] and "traces" in lines[0]
    assert "Connection refused" in lines[0]


@pytest.mark.parametrize(
    ("variable", "value", "extra"),
    [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "foo", {}),
        ("OTEL_METRIC_EXPORT_INTERVAL", "abc", {}),
        ("OTEL_RESOURCE_ATTRIBUTES", "garbage", {}),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url", {}),
        ("OTEL_EXPORTER_OTLP_HEADERS", "junk", {}),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon", {}),
        ("OTEL_TRACES_EXPORTER", "zipkin", {}),
        ("DBSBM_ENV", "staging", {}),
        *SDK_READ_MALFORMED,
        # upstream's gRPC exporter raised on any compression but gzip
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "bogus", {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}),
    ],
)
def test_malformed_setting_gives_one_line_naming_it(
    tmp_path: Path,
    variable: str,
    value: str,
    extra: dict[str, str],
) -> None:
    """A bad variable: one line on stderr naming it, no traceback, the bot keeps running."""
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{_closed_port()}",
        **extra,
        variable: value,
    }
    result = run_python(
        tmp_path,
        """
        from opentelemetry import trace
        from dbsbm_instrumentation.bootstrap import configure_telemetry
        telemetry = configure_telemetry(system_metrics=False)
        with trace.get_tracer("bot").start_as_current_span("still"):
            print("still running")
        telemetry.shutdown(0.5)
    """,
        env,
    )
    assert_ran_with_one_line_naming(result, variable)


def test_logs_module_imported_first_is_covered_too(tmp_path: Path) -> None:
    """A bot importing dbsbm_instrumentation.logs before bootstrap gets no import crash."""
    result = run_python(
        tmp_path,
        """
        from dbsbm_instrumentation.logs import configure_logging
        from dbsbm_instrumentation.bootstrap import configure_telemetry
        configure_telemetry(system_metrics=False, logs=False).shutdown(0.5)
        print("still running")
    """,
        {
            "OTEL_PROPAGATORS": "tracecontext,bogus",
            "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "x",
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_METRICS_EXPORTER": "none",
        },
    )
    assert result.returncode == 0, result.stderr
    assert "still running" in result.stdout
    lines = sorted(line for line in result.stderr.splitlines() if line.strip())
    assert [line.split("=")[0] for line in lines] == [
        "OTEL_PROPAGATORS",
        "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
    ], result.stderr


def test_bad_sdk_variable_is_removed_and_good_ones_are_kept(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The SDK takes its default once the bad value is gone; good and empty values stay."""
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "4096")
    monkeypatch.setenv("OTEL_SPAN_LINK_COUNT_LIMIT", "")  # the SDK's "no limit"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "GZIP")
    monkeypatch.setenv("OTEL_PROPAGATORS", "tracecontext, baggage")
    monkeypatch.setenv("OTEL_METRICS_EXEMPLAR_FILTER", "ALWAYS_ON")  # the SDK is case-exact
    monkeypatch.setenv("OTEL_BLRP_EXPORT_TIMEOUT", " ")  # empty means unset: dropped quietly
    with caplog.at_level("WARNING"):
        bootstrap.check_settings()
    assert os.environ["OTEL_BSP_MAX_QUEUE_SIZE"] == "4096"
    assert os.environ["OTEL_SPAN_LINK_COUNT_LIMIT"] == ""
    assert os.environ["OTEL_EXPORTER_OTLP_COMPRESSION"] == "GZIP"
    assert os.environ["OTEL_PROPAGATORS"] == "tracecontext, baggage"
    assert "OTEL_METRICS_EXEMPLAR_FILTER" not in os.environ
    assert "OTEL_BLRP_EXPORT_TIMEOUT" not in os.environ
    assert [r.getMessage() for r in caplog.records] == [
        (
            "OTEL_METRICS_EXEMPLAR_FILTER='ALWAYS_ON' is not one of trace_based, always_on, "
            "always_off; using trace_based"
        )
    ]


def _exporter(signal: str, name: str = "otlp_proto_http") -> Any:
    """The exporter the configurator builds for ``signal`` when ``name`` is chosen."""
    bootstrap.check_settings()
    (entry,) = entry_points(group=f"opentelemetry_{signal}_exporter", name=name)
    exporter_class = entry.load()
    return exporter_class(**configurator.exporter_arguments(signal, exporter_class))


def _headers(exporter: Any) -> dict[str, str]:
    """The headers ``exporter`` sends beyond its own content-type and user-agent."""
    is_grpc = ".grpc." in type(exporter).__module__
    headers = dict(exporter._headers if is_grpc else exporter._client._headers)
    return {k: v for k, v in headers.items() if k not in ("content-type", "user-agent")}


def _without_otel_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OTEL_*/DBSBM_* variable, also none left behind by our defaults."""
    for name in [n for n in os.environ if n.startswith(("OTEL_", "DBSBM_"))]:
        monkeypatch.delenv(name)
    for signal in (s.upper() for s in SIGNALS):
        for name in (f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL", f"OTEL_{signal}_EXPORTER"):
            monkeypatch.delenv(name, raising=False)


def test_header_names_are_lower_cased_resource_keys_are_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """gRPC refuses capitals in metadata keys; resource attribute keys keep their case."""
    _without_otel_variables(monkeypatch)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%20x,X-Team=Bets")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "Team.Name=Bets")
    for name in ("otlp_proto_http", "otlp_proto_grpc"):
        exporter = _exporter("traces", name)
        assert _headers(exporter) == {"authorization": "Bearer x", "x-team": "Bets"}
        exporter.shutdown()
    assert dict(OTELResourceDetector().detect().attributes) == {"Team.Name": "Bets"}


def test_grpc_export_takes_capitalised_headers_and_compression_none(tmp_path: Path) -> None:
    """`Authorization=...` over gRPC used to fail every export with "Illegal header key",
    and the spec's compression "none" crashed upstream's gRPC exporter: now the only
    complaint against a closed port is the connection itself."""
    result = run_python(
        tmp_path,
        """
        import time
        from opentelemetry import trace
        from dbsbm_instrumentation.bootstrap import configure_telemetry
        telemetry = configure_telemetry(system_metrics=False, logs=False)
        with trace.get_tracer("bot").start_as_current_span("work"):
            pass
        time.sleep(2.5)
        telemetry.shutdown(0.5)
    """,
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{_closed_port()}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer x",
            "OTEL_EXPORTER_OTLP_COMPRESSION": "none",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "1",
            "OTEL_BSP_SCHEDULE_DELAY": "50",
            "OTEL_METRICS_EXPORTER": "none",
        },
    )
    assert result.returncode == 0, result.stderr
    assert "Illegal header key" not in result.stderr
    assert "Invalid metadata" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "StatusCode.UNAVAILABLE" in lines[0], result.stderr


def test_settings_precedence_and_signal_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    """Per-signal variables beat general ones; the general endpoint gets the signal path."""
    _without_otel_variables(monkeypatch)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://loki:3100/otlp/v1/logs")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20x,x-team=bets")
    monkeypatch.setenv("OTEL_LOGS_EXPORTER", "none")
    sdk_environ.set_defaults()
    (traces_class,) = configurator.chosen_exporter_classes("traces")
    (metrics_class,) = configurator.chosen_exporter_classes("metrics")
    traces, metrics, logs = (
        _exporter("traces"),
        _exporter("metrics", "otlp_proto_grpc"),
        _exporter("logs"),
    )
    assert traces._endpoint == "http://collector:4318/v1/traces"
    assert ".http." in traces_class.__module__ and traces._client._timeout == 3.0
    assert ".grpc." in metrics_class.__module__
    assert configurator.Destination.of("metrics", metrics).address == "http://collector:4318/"
    assert logs._endpoint == "http://loki:3100/otlp/v1/logs"
    assert configurator.Destination.of("logs", logs).variable == "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"
    assert configurator.chosen_exporter_classes("logs") == []
    assert _headers(traces) == {"authorization": "Bearer x", "x-team": "bets"}
    for exporter in (traces, metrics, logs):
        exporter.shutdown()


def test_resource_takes_environment_from_dbsbm_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """deployment.environment(.name) comes from DBSBM_ENV unless given explicitly."""
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.setenv("DBSBM_ENV", "development")
    resource = bootstrap.build_resource()
    assert resource.attributes["deployment.environment.name"] == "development"
    assert resource.attributes["service.name"] == "dbsbm"
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=canary")
    resource = bootstrap.build_resource(service_name="bot")
    assert resource.attributes["deployment.environment.name"] == "canary"
    assert resource.attributes["service.name"] == "bot"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", str(resource.attributes["telemetry.distro.version"]))


def _http_transport(signal: str) -> Any:
    exporter = _exporter(signal)
    try:
        return exporter._client._transport
    finally:
        exporter.shutdown()


def test_http_exporters_use_the_urllib3_transport(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """urllib3, not requests (+ charset_normalizer): 4.3 MB less RSS; CAs as requests."""
    for name in [
        n
        for n in os.environ
        if n.startswith(("OTEL_", "DBSBM_"))
        or n.lower().endswith("_proxy")
        or n in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
    ]:
        monkeypatch.delenv(name)
    import certifi

    transport = _http_transport("traces")
    assert type(transport).__name__ == "Urllib3HTTPTransport"
    assert transport._pool.connection_pool_kw["ca_certs"] == certifi.where()
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    assert _http_transport("logs")._pool.connection_pool_kw["ca_certs"] == str(bundle)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE", "/etc/otlp-ca.pem")
    assert _http_transport("metrics")._pool.connection_pool_kw["ca_certs"] == "/etc/otlp-ca.pem"
    # Only requests honours proxies and credential providers: keep it then.
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy:3128")
    assert type(_http_transport("traces")).__name__ == "RequestsHTTPTransport"


@pytest.mark.parametrize(
    ("exporters", "expected"),
    [
        ({"OTEL_TRACES_EXPORTER": "console"}, "console"),
        ({"OTEL_TRACES_EXPORTER": "otlp_proto_http,console"}, "both"),
        ({"OTEL_TRACES_EXPORTER": "otlp_proto_grpc", "OTEL_EXPORTER_OTLP_TIMEOUT": "1"}, "grpc"),
    ],
    ids=["console", "http-and-console", "grpc"],
)
def test_any_exporter_the_sdk_supports_can_be_chosen(
    tmp_path: Path,
    otlp_stand_in: OtlpHttpStandIn,
    exporters: dict[str, str],
    expected: str,
) -> None:
    """OTEL_TRACES_EXPORTER picks the SDK's exporters by entry point, guarded and redacted."""
    result = run_python(
        tmp_path,
        BOT,
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_stand_in.endpoint,
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            **exporters,
        },
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    printed = '"name": "bet.place"' in result.stdout
    posted = any(s.name == "bet.place" for s in otlp_stand_in.spans())
    assert (printed, posted) == {
        "console": (True, False),
        "both": (True, True),
        "grpc": (False, False),  # the stand-in speaks HTTP only: the export fails, quietly
    }[expected]
    if printed:
        assert "password='****'" in result.stdout and "hunter2" not in result.stdout
    if expected == "grpc":
        lines = [line for line in result.stderr.splitlines() if "placed with" not in line]
        assert len(lines) == 1 and "traces export to" in lines[0], result.stderr


def test_importing_changes_nothing(tmp_path: Path) -> None:
    """Importing our modules neither rewrites the environment nor installs logging filters,
    malformed values included; the configure call does both."""
    result = run_python(
        tmp_path,
        """
        import logging, os
        before = dict(os.environ)
        import dbsbm_instrumentation.bootstrap, dbsbm_instrumentation.distro
        import dbsbm_instrumentation.logs
        filtered = [name for name, item in logging.root.manager.loggerDict.items()
                    if getattr(item, "filters", None)]
        print("unchanged" if dict(os.environ) == before and not filtered else "changed")
        dbsbm_instrumentation.bootstrap.configure_telemetry(system_metrics=False).shutdown(0.5)
        print("removed" if "OTEL_BSP_MAX_QUEUE_SIZE" not in os.environ else "kept")
    """,
        {
            "OTEL_BSP_MAX_QUEUE_SIZE": "abc",
            "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "x",
            "OTEL_RESOURCE_ATTRIBUTES": "garbage",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{_closed_port()}",
        },
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["unchanged", "removed"], result.stdout
    assert "Traceback" not in result.stderr
