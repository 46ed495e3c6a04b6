#!/bin/sh
# Check the collector's environment, then run the command given (the image's entrypoint:
# otelcol-env-check.sh /usr/local/bin/otelcol-dbsbm --config=...).
#
# The collector's own message for a malformed number or duration names the config key
# ('limit_mib' expected type 'uint32'), not the variable that set it; this names the
# variable, in one line, and exits 2. An empty value means the default, as in the config.
#
# Usage: otelcol-env-check.sh [COMMAND [ARG...]]
set -eu

fail() {
  echo "otelcol: $1" >&2
  exit 2
}

positive_int() {
  eval "value=\${$1-}"
  [ -z "$value" ] && return 0
  case "$value" in
    *[!0-9]* | 0*) fail "$1=\"$value\" is not valid: expected a whole number above 0${2:+ ($2)}" ;;
  esac
}

duration() {
  eval "value=\${$1-}"
  [ -z "$value" ] && return 0
  # Go durations: 200ms, 5s, 15m, 1h30m (0 alone is allowed).
  if ! printf '%s' "$value" | grep -Eq '^(0|([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+)$'; then
    fail "$1=\"$value\" is not valid: expected a duration such as 200ms, 5s, 15m or 1h30m"
  fi
}

positive_int OTELCOL_MEMORY_LIMIT_MIB "MiB"
positive_int OTELCOL_QUEUE_MAX_BYTES "bytes"
positive_int OTELCOL_BATCH_MAX_BYTES "bytes"
positive_int OTELCOL_OTLP_GRPC_MAX_RECV_MSG_MIB "MiB"
positive_int OTELCOL_OTLP_HTTP_MAX_REQUEST_BYTES "bytes"
positive_int OTELCOL_ATTRIBUTE_VALUE_LENGTH_LIMIT "bytes"
positive_int OTELCOL_ATTRIBUTE_COUNT_LIMIT
positive_int OTELCOL_LOG_BODY_LENGTH_LIMIT "bytes"
duration OTELCOL_RETRY_MAX_ELAPSED_TIME
duration OTELCOL_BATCH_TIMEOUT

token="${OTELCOL_OTLP_BEARER_TOKEN-}"
if [ -n "$token" ] && ! printf '%s' "$token" | grep -Eq '^[A-Za-z0-9._~+/-]+=*$'; then
  # The value is a secret: named, never printed.
  fail "OTELCOL_OTLP_BEARER_TOKEN is not valid: a bearer token is letters, digits and ._~+/- (then = padding)"
fi
for arg in "$@"; do
  case "$arg" in
    *otelcol-auth.yml*)
      [ -n "$token" ] || fail "OTELCOL_OTLP_BEARER_TOKEN is not set: otelcol-auth.yml requires it"
      ;;
  esac
done

[ "$#" -eq 0 ] || exec "$@"
