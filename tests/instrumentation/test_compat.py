"""DBSBM's record_* functions and time_operation, mapped onto OpenTelemetry instruments."""

from __future__ import annotations

from unittest import IsolatedAsyncioTestCase

from opentelemetry.semconv.attributes.db_attributes import DB_OPERATION_NAME
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.http_attributes import HTTP_RESPONSE_STATUS_CODE
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS
from opentelemetry.test.test_base import TestBase
from opentelemetry.trace import StatusCode

from dbsbm_instrumentation import compat, semconv
from dbsbm_instrumentation.compat import MonitoringCompat, endpoint_host, label_value
from tests.instrumentation.helpers import metric, points


class TestLabels(TestBase):
    def test_endpoint_reduced_to_host(self) -> None:
        """URLs and host/path endpoints become their host; bare paths never become labels."""
        self.assertEqual(
            endpoint_host("https://v1.basketball.api-sports.io/games?id=5&key=k"),
            "v1.basketball.api-sports.io",
        )
        self.assertEqual(endpoint_host("api.weatherapi.com/v1/current.json"), "api.weatherapi.com")
        self.assertEqual(
            endpoint_host("V3.Football.API-Sports.io:443"), "v3.football.api-sports.io"
        )
        self.assertEqual(endpoint_host("/fixtures/123"), "unknown")
        self.assertEqual(endpoint_host("datagolf"), "datagolf")

    def test_label_value_bounded(self) -> None:
        """Caller-supplied names keep identifier characters and at most 64 of them."""
        self.assertEqual(label_value("db fetch/one"), "db_fetch_one")
        self.assertEqual(len(label_value("x" * 500)), 64)
        self.assertEqual(label_value("///"), "unknown")


class TestMonitoringCompat(TestBase, IsolatedAsyncioTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.compat = MonitoringCompat(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider
        )
        self.tracer = self.tracer_provider.get_tracer(__name__)

    def test_api_call(self) -> None:
        """record_api_call feeds its own histogram (not contrib's), by host and status."""
        self.compat.record_api_call(
            "https://v3.football.api-sports.io/odds?fixture=1", 0.25, 200, True
        )
        self.compat.record_api_call(
            "https://v3.football.api-sports.io/odds?fixture=2", 0.5, 503, False
        )
        duration = metric(self, semconv.COMPAT_API_CALL_DURATION.name)
        self.assertEqual(duration.unit, "s")
        attributes = sorted(
            (dict(p.attributes) for p in duration.data.data_points),
            key=lambda a: a[HTTP_RESPONSE_STATUS_CODE],
        )
        host = "v3.football.api-sports.io"
        self.assertEqual(
            attributes,
            [
                {SERVER_ADDRESS: host, HTTP_RESPONSE_STATUS_CODE: 200},
                {SERVER_ADDRESS: host, HTTP_RESPONSE_STATUS_CODE: 503, ERROR_TYPE: "503"},
            ],
        )

    def test_database_query(self) -> None:
        """record_database_query is a duration by operation, with error.type on failure."""
        self.compat.record_database_query("fetch_one", 0.02, True)
        self.compat.record_database_query("fetch_one", 1.5, False)
        by_error = {
            p.attributes.get(ERROR_TYPE): p
            for p in points(self, semconv.COMPAT_DB_QUERY_DURATION.name)
        }
        self.assertEqual(by_error[None].attributes[DB_OPERATION_NAME], "fetch_one")
        self.assertEqual(by_error["_OTHER"].sum, 1.5)

    def test_cache_operation(self) -> None:
        """record_cache_operation feeds the cache's own instruments, result ok or error."""
        self.compat.record_cache_operation("get", 0.001, True)
        self.compat.record_cache_operation("get", 0.002, False)
        counts = {
            p.attributes[semconv.CACHE_RESULT]: p.value
            for p in points(self, semconv.CACHE_OPERATIONS.name)
        }
        self.assertEqual(counts, {"ok": 1, "error": 1})
        self.assertEqual(metric(self, semconv.CACHE_OPERATION_DURATION.name).unit, "s")

    def test_business_metric(self) -> None:
        """record_business_metric records the value by name and category."""
        self.compat.record_business_metric("bets_placed", 3, "betting")
        (point,) = points(self, semconv.BUSINESS_METRIC.name)
        self.assertEqual(
            dict(point.attributes),
            {
                semconv.BUSINESS_METRIC_NAME: "bets_placed",
                semconv.BUSINESS_METRIC_CATEGORY: "betting",
            },
        )
        self.assertEqual(point.sum, 3)

    def test_error(self) -> None:
        """record_error counts by type and puts the message, not the context, on the span."""
        with self.tracer.start_as_current_span("command"):
            self.compat.record_error("APIException", "odds feed down", {"user_id": 42})
        (point,) = points(self, semconv.ERRORS.name)
        self.assertEqual((point.value, dict(point.attributes)), (1, {ERROR_TYPE: "APIException"}))
        (span,) = self.get_finished_spans()
        (event,) = span.events
        self.assertEqual(event.name, semconv.ERROR_EVENT)
        self.assertNotIn("user_id", str(event.attributes))

    async def test_time_operation_async(self) -> None:
        """An async function gets an INTERNAL span and a duration sample."""

        @self.compat.time_operation("db_fetch_one")
        async def fetch_one(x: int) -> int:
            return x * 2

        self.assertEqual(await fetch_one(21), 42)
        (span,) = self.get_finished_spans()
        self.assertEqual(span.name, "db_fetch_one")
        (point,) = points(self, semconv.OPERATION_DURATION.name)
        self.assertEqual(dict(point.attributes), {semconv.OPERATION_NAME: "db_fetch_one"})

    def test_time_operation_sync_failure(self) -> None:
        """A sync function that raises re-raises, with ERROR status and error.type."""

        @self.compat.time_operation("db_execute")
        def execute() -> None:
            raise TimeoutError("slow")

        with self.assertRaises(TimeoutError):
            execute()
        (span,) = self.get_finished_spans()
        self.assertIs(span.status.status_code, StatusCode.ERROR)
        self.assertEqual(span.attributes[ERROR_TYPE], "TimeoutError")
        (point,) = points(self, semconv.OPERATION_DURATION.name)
        self.assertEqual(point.attributes[ERROR_TYPE], "TimeoutError")


class TestModuleFunctions(TestBase, IsolatedAsyncioTestCase):
    def setUp(self) -> None:
        super().setUp()
        compat._default.cache_clear()  # bind to the providers TestBase made global
        self.addCleanup(compat._default.cache_clear)

    async def test_drop_in_functions(self) -> None:
        """The module functions and decorator use the global providers, as the bot would."""

        @compat.time_operation("db_fetch_all")
        async def fetch_all() -> list[int]:
            return [1]

        self.assertEqual(await fetch_all(), [1])
        compat.record_api_call("https://api.sportdevs.com/matches", 0.1, 200, True)
        self.assertEqual(len(points(self, semconv.OPERATION_DURATION.name)), 1)
        self.assertEqual(len(points(self, semconv.COMPAT_API_CALL_DURATION.name)), 1)

    def test_never_raises(self) -> None:
        """Bad arguments are logged, never raised into the bot."""
        with self.assertLogs("dbsbm_instrumentation.compat", "WARNING"):
            compat.record_database_query("select", "not-a-number", True)  # type: ignore[arg-type]  # the bad input under test
