"""Test support shared by tests/bootstrap and tests/distro: a bot runner, an OTLP stand-in.

:func:`run_python` runs a script in a fresh interpreter (telemetry set-up is global and
once per process, so each scenario gets its own process).

:class:`OtlpHttpStandIn` is a stand-in OTLP/HTTP receiver, not a collector: it records
every POST to /v1/traces, /v1/logs and /v1/metrics, answers 200, and decodes the
protobuf bodies with ``opentelemetry-proto``. Used where the question is "what left the
process" (resource attributes, redaction, which signals), which the built collector
would only answer indirectly through Prometheus.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

# Variables of the test runner that would change what the child process does.
_NOT_INHERITED = ("OTEL_", "DBSBM_")

# OTEL_* variables the SDK, its exporters or opentelemetry.propagate read themselves, with
# a value that used to crash, print a traceback or a line not naming the variable
# (bootstrap._SDK_VARIABLES), and what else the case needs set.
SDK_READ_MALFORMED: list[tuple[str, str, dict[str, str]]] = [
    ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "abc", {}),  # read at import of opentelemetry.sdk.trace
    ("OTEL_ATTRIBUTE_COUNT_LIMIT", "abc", {}),
    ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "-1", {}),
    ("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", "many", {}),
    ("OTEL_METRICS_EXEMPLAR_FILTER", "bogus", {}),
    ("OTEL_PROPAGATORS", "bogus", {}),  # read at import of opentelemetry.propagate
    ("OTEL_BSP_MAX_QUEUE_SIZE", "abc", {}),
    ("OTEL_BSP_MAX_QUEUE_SIZE", "100", {}),  # below the default batch of 512: SDK raises
    ("OTEL_BSP_EXPORT_TIMEOUT", "abc", {}),
    ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "abc", {}),
    ("OTEL_BLRP_MAX_QUEUE_SIZE", "abc", {}),
    ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "0", {}),
    ("OTEL_TRACES_SAMPLER", "bogus", {}),
    ("OTEL_TRACES_SAMPLER_ARG", "5", {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio"}),
    ("OTEL_EXPORTER_OTLP_COMPRESSION", "bogus", {}),
    ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "zstd", {}),
]


def run_python(
    tmp_path: Path,
    source: str,
    env: dict[str, str],
    *prefix: str,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run ``source`` as ``tmp_path/bot.py`` (``prefix`` goes first, e.g.
    ``opentelemetry-instrument``) with a clean OTEL_*/DBSBM_* environment plus ``env``."""
    script = tmp_path / "bot.py"
    script.write_text(textwrap.dedent(source))
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(_NOT_INHERITED)}
    child_env.update(env)
    return subprocess.run(
        [*prefix, sys.executable, str(script)],
        env=child_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_ran_with_one_line_naming(
    result: subprocess.CompletedProcess[str], variable: str
) -> None:
    """The bad-input contract: the bot ran to the end, and stderr is one line naming it."""
    assert result.returncode == 0, result.stderr
    assert "still running" in result.stdout
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{variable}=")


# Protobuf message classes (google.protobuf ships no type stubs here).
_REQUESTS: dict[str, Any] = {
    "/v1/traces": ExportTraceServiceRequest,
    "/v1/logs": ExportLogsServiceRequest,
    "/v1/metrics": ExportMetricsServiceRequest,
}


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


def attributes(key_values: Any) -> dict[str, Any]:
    """OTLP ``KeyValue`` list as a dict of plain values."""
    return {kv.key: _value(kv.value) for kv in key_values}


class OtlpHttpStandIn:
    """Threaded HTTP server on a free loopback port; ``endpoint`` is its base URL."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, Any]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request_type = _REQUESTS.get(self.path)
                if request_type is not None:
                    message = request_type()
                    message.ParseFromString(body)
                    stand_in.requests.append((self.path, message))
                self.send_response(200 if request_type else 404)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, path: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(p == path for p, _ in self.requests):
                return
            time.sleep(0.05)
        raise AssertionError(f"nothing was posted to {path} within {timeout} s")

    def resources(self, path: str) -> list[dict[str, Any]]:
        """Resource attributes of every batch posted to ``path``."""
        found = []
        for posted, message in self.requests:
            if posted != path:
                continue
            for group in _groups(message):
                found.append(attributes(group.resource.attributes))
        return found

    def spans(self) -> Iterator[Any]:
        for group in self._groups("/v1/traces"):
            for scope in group.scope_spans:
                yield from scope.spans

    def log_records(self) -> Iterator[Any]:
        for group in self._groups("/v1/logs"):
            for scope in group.scope_logs:
                yield from scope.log_records

    def metric_names(self) -> set[str]:
        names: set[str] = set()
        for group in self._groups("/v1/metrics"):
            for scope in group.scope_metrics:
                names.update(metric.name for metric in scope.metrics)
        return names

    def _groups(self, path: str) -> Iterator[Any]:
        for posted, message in list(self.requests):
            if posted == path:
                yield from _groups(message)


def _groups(message: Any) -> Any:
    for name in ("resource_spans", "resource_logs", "resource_metrics"):
        if hasattr(message, name):
            return getattr(message, name)
    return []
