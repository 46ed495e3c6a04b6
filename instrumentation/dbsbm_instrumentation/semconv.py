"""Names of everything this package emits: the one place they are spelled.

Spec attributes and metrics come from ``opentelemetry.semconv``; ours live under the
``dbsbm.`` prefix. Dashboards, alert rules and tests read the Prometheus spelling from
:func:`prometheus_name`, so a rename here cannot leave a panel or an alert behind.
"""

from __future__ import annotations

from opentelemetry.semconv._incubating.metrics.db_metrics import (
    DB_CLIENT_CONNECTION_PENDING_REQUESTS,
    DB_CLIENT_CONNECTION_WAIT_TIME,
)

from dbsbm_resilience.semconv import (  # the runtime's names, re-exported: one catalogue
    BREAKER_NAME as BREAKER_NAME,
)
from dbsbm_resilience.semconv import (
    BREAKER_STATE as BREAKER_STATE,
)
from dbsbm_resilience.semconv import (
    BREAKER_STATE_GAUGE as BREAKER_STATE_GAUGE,
)
from dbsbm_resilience.semconv import (
    BREAKER_STATE_VALUES as BREAKER_STATE_VALUES,
)
from dbsbm_resilience.semconv import (
    BREAKER_TRANSITIONS as BREAKER_TRANSITIONS,
)
from dbsbm_resilience.semconv import (
    CACHE_FALLBACK_ACTIVE as CACHE_FALLBACK_ACTIVE,
)
from dbsbm_resilience.semconv import (
    CACHE_LOCAL_ENTRIES as CACHE_LOCAL_ENTRIES,
)
from dbsbm_resilience.semconv import (
    CACHE_OPERATION as CACHE_OPERATION,
)
from dbsbm_resilience.semconv import (
    CACHE_OPERATION_DURATION as CACHE_OPERATION_DURATION,
)
from dbsbm_resilience.semconv import (
    CACHE_OPERATIONS as CACHE_OPERATIONS,
)
from dbsbm_resilience.semconv import (
    CACHE_PREFIX as CACHE_PREFIX,
)
from dbsbm_resilience.semconv import (
    CACHE_RESULT as CACHE_RESULT,
)
from dbsbm_resilience.semconv import (
    CACHE_TIER as CACHE_TIER,
)
from dbsbm_resilience.semconv import (
    ERROR_CODE as ERROR_CODE,
)
from dbsbm_resilience.semconv import (
    ERROR_RETRYABLE as ERROR_RETRYABLE,
)
from dbsbm_resilience.semconv import (
    RETRY_ATTEMPTS as RETRY_ATTEMPTS,
)
from dbsbm_resilience.semconv import (
    RETRY_OPERATION as RETRY_OPERATION,
)
from dbsbm_resilience.semconv import (
    Instrument as Instrument,
)
from dbsbm_resilience.semconv import (
    InstrumentKind as InstrumentKind,
)
from dbsbm_resilience.semconv import (
    label as label,
)
from dbsbm_resilience.semconv import (
    prometheus_name as prometheus_name,
)

# --- our attribute names (spec names are imported from opentelemetry.semconv) --------
DISCORD_COMMAND_NAME = "dbsbm.discord.command.name"
# On spans a listener is named like a command, with type "event"; its metrics are apart.
DISCORD_COMMAND_TYPE = "dbsbm.discord.command.type"  # "slash" | "prefix" | "event"
DISCORD_EVENT_NAME = "dbsbm.discord.event.name"
DISCORD_GUILD_ID = "dbsbm.discord.guild.id"
DISCORD_SHARD_ID = "dbsbm.discord.shard.id"
BUSINESS_METRIC_NAME = "dbsbm.business.metric.name"
BUSINESS_METRIC_CATEGORY = "dbsbm.business.metric.category"
PROBE_NAME = "probe"
PROBE_KIND = "probe_kind"
PROBE_HOST_RESOURCE = "probe_host_resource"  # "memory" | "cpu" | "disk"

# --- database, HTTP, discord.py ----------------------------------------------------------
DB_OPERATION_DURATION = Instrument(
    "db.client.operation.duration",
    "s",
    "histogram",
    "Duration of database client operations.",
)
DB_RETURNED_ROWS = Instrument(
    "db.client.response.returned_rows",
    "{row}",
    "histogram",
    "Rows returned by a query.",
)
DB_CONNECTION_COUNT = Instrument(
    "db.client.connection.count",
    "{connection}",
    "gauge",
    "Pool connections by db.client.connection.state (used|idle).",
)
DB_CONNECTION_MAX = Instrument(
    "db.client.connection.max",
    "{connection}",
    "gauge",
    "Pool size limit.",
)
# Hung work never reaches a duration histogram: these count what has started and not ended.
DB_OPERATION_ACTIVE = Instrument(
    "dbsbm.db.client.operation.active",
    "{operation}",
    "updown_counter",
    "Queries started and not yet finished (semconv has no name for it).",
)
DB_CONNECTION_PENDING_REQUESTS = Instrument(
    DB_CLIENT_CONNECTION_PENDING_REQUESTS,
    "{request}",
    "updown_counter",
    "Callers waiting for a connection from the pool.",
)
DB_CONNECTION_WAIT_TIME = Instrument(
    DB_CLIENT_CONNECTION_WAIT_TIME,
    "s",
    "histogram",
    "Time it took to obtain a connection from the pool.",
)
HTTP_CLIENT_DURATION = Instrument(
    "http.client.request.duration",
    "s",
    "histogram",
    "aiohttp client request duration (contrib instrumentation, stable HTTP semconv).",
)
API_RATE_LIMITED = Instrument(
    "dbsbm.api.rate_limited",
    "{response}",
    "counter",
    "HTTP 429 answers from external APIs, by server.address.",
)
API_RETRY_AFTER = Instrument(
    "dbsbm.api.retry_after",
    "s",
    "histogram",
    "Retry-After the API asked for with a 429, by server.address.",
)
API_RATE_LIMITED_EVENT = "dbsbm.api.rate_limited"  # span event on the caller's span
# Commands only (prefix and slash): these two are the command error ratio's SLI, and a
# message that runs a prefix command also runs on_message, which must not count twice.
DISCORD_COMMAND_DURATION = Instrument(
    "dbsbm.discord.command.duration",
    "s",
    "histogram",
    "discord.py prefix and slash command duration, by command name and type.",
)
DISCORD_COMMAND_ERRORS = Instrument(
    "dbsbm.discord.command.errors",
    "{error}",
    "counter",
    "Commands that raised, by command name, type and error.type.",
)
DISCORD_COMMAND_ACTIVE = Instrument(
    "dbsbm.discord.command.active",
    "{command}",
    "updown_counter",
    "Prefix and slash commands started and not yet finished, by command type.",
)
DISCORD_EVENT_DURATION = Instrument(
    "dbsbm.discord.event.duration",
    "s",
    "histogram",
    "discord.py event listener duration, by event name.",
)
DISCORD_EVENT_ERRORS = Instrument(
    "dbsbm.discord.event.errors",
    "{error}",
    "counter",
    "Event listeners that raised, by event name and error.type.",
)
DISCORD_INTERACTION_LATENCY = Instrument(
    "dbsbm.discord.interaction.latency",
    "s",
    "histogram",
    "Time from the interaction's creation (snowflake) to its dispatch.",
)
DISCORD_GATEWAY_LATENCY = Instrument(
    "dbsbm.discord.gateway.latency",
    "s",
    "gauge",
    "Gateway heartbeat latency (bot.latency).",
)
DISCORD_GUILDS = Instrument(
    "dbsbm.discord.guilds",
    "{guild}",
    "gauge",
    "Guilds the bot is in.",
)
DISCORD_SHARD_CONNECTED = Instrument(
    "dbsbm.discord.shard.connected",
    "",
    "gauge",
    "1 per connected shard, 0 otherwise.",
)
BUSINESS_METRIC = Instrument(
    "dbsbm.business.metric",
    "",
    "histogram",
    "Values passed to DBSBM's record_business_metric(name, value, category).",
)
ERRORS = Instrument(
    "dbsbm.errors",
    "{error}",
    "counter",
    "Errors passed to DBSBM's record_error(type, msg, context), by error.type.",
)
# DBSBM's record_api_call / record_database_query are called around aiohttp and aiomysql
# calls that auto-instrumentation already measures under the spec names, so what they
# report goes to names of its own: the spec series never count one call twice.
COMPAT_API_CALL_DURATION = Instrument(
    "dbsbm.api.call.duration",
    "s",
    "histogram",
    "Durations passed to DBSBM's record_api_call, by server.address and status code.",
)
COMPAT_DB_QUERY_DURATION = Instrument(
    "dbsbm.db.query.duration",
    "s",
    "histogram",
    "Durations passed to DBSBM's record_database_query, by db.operation.name.",
)
OPERATION_DURATION = Instrument(
    "dbsbm.operation.duration",
    "s",
    "histogram",
    "Functions timed with DBSBM's time_operation decorator, by operation name.",
)
OPERATION_NAME = "dbsbm.operation.name"
ERROR_EVENT = "dbsbm.error"  # span event recorded by record_error

# --- the telemetry pipeline itself (dbsbm_instrumentation.configurator) ----------------
TELEMETRY_BUFFER_DROPPED = Instrument(
    "dbsbm.telemetry.buffer.dropped",
    "{item}",
    "counter",
    "Spans and log records dropped by the export buffer, by signal and reason.",
)

# --- agent -------------------------------------------------------------------------------
# blackbox_exporter spells these without a unit suffix to add, so they keep their names.
PROBE_SUCCESS = Instrument(
    "probe_success",
    "",
    "gauge",
    "1 when the probe passed (warn counts as passed), else 0.",
)
PROBE_DURATION = Instrument(
    "probe_duration_seconds",
    "s",
    "gauge",
    "How long the probe took.",
)
HEALTH_STATUS = Instrument(
    "dbsbm.health.status",
    "",
    "gauge",
    "Overall health: 1 pass, 0.5 warn, 0 fail.",
)
AGENT_CONFIG_RELOAD = Instrument(
    "dbsbm.agent.config.last_reload_successful",
    "",
    "gauge",
    "1 when the agent's configuration last loaded without error.",
)
# Extra per-kind observations a prober records (blackbox's probe_<kind>_* series).
PROBE_HTTP_STATUS_CODE = Instrument(
    "probe_http_status_code",
    "",
    "gauge",
    "HTTP status of the probe's last answer (http and discord probes).",
)
PROBE_HOST_UTILIZATION = Instrument(
    "probe_host_utilization_ratio",
    "",
    "gauge",
    "Host memory, CPU and disk use as a 0-1 ratio, by probe_host_resource.",
)

# --- derived by the collector ----------------------------------------------------------
# The span_metrics connector (deploy/otel-collector) names this; listed so dashboards
# and alerts spell it from here too.
SPAN_CALLS = Instrument(
    "traces.span.metrics.calls",
    "",
    "counter",
    "Spans by service, span name, kind, status.",
)

# --- collector hostmetrics (deploy/otel-collector) ----------------------------------------
# The hostmetrics receiver emits these; the *.utilization ones are optional there and must
# be enabled in its config. Its attributes still carry their pre-semconv names.
HOST_STATE = "state"  # system.memory / system.cpu: "used", "free", ... / "user", "idle", ...
HOST_FILESYSTEM_DEVICE = "device"
HOST_FILESYSTEM_MOUNTPOINT = "mountpoint"
SYSTEM_CPU_UTILIZATION = Instrument(
    "system.cpu.utilization",
    "1",
    "gauge",
    "Share of CPU time per state (hostmetrics).",
)
SYSTEM_MEMORY_UTILIZATION = Instrument(
    "system.memory.utilization",
    "1",
    "gauge",
    "Share of memory per state (hostmetrics).",
)
SYSTEM_FILESYSTEM_UTILIZATION = Instrument(
    "system.filesystem.utilization",
    "1",
    "gauge",
    "Share of a filesystem in use (hostmetrics).",
)

# --- the bot's own process (opentelemetry-instrumentation-system-metrics) ----------------
PROCESS_CPU_TIME = Instrument(
    "process.cpu.time",
    "s",
    "counter",
    "CPU seconds the bot process used, by cpu.mode.",
)
PROCESS_MEMORY_USAGE = Instrument(
    "process.memory.usage",
    "By",
    "updown_counter",
    "Resident memory of the bot process.",
)
