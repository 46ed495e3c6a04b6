#!/usr/bin/env bash
# Run the whole stack on loopback without Docker: Redis, MariaDB, Prometheus, our collector
# (deploy/otel-collector/otelcol-config.yml unchanged), a file sink standing in for
# Tempo and Loki, the health agent, and the DBSBM-shaped demo bot under
# opentelemetry-instrument. Ctrl-C stops everything.
#
# Usage: scripts/demo.sh [--duration N] [--rate R] [--no-install] [--workdir DIR]
#   --duration N   stop after N seconds (CI and the e2e test use this)
#   --rate R       demo commands per second (default 4)
#   --no-install   skip scripts/install-deps.sh (apt packages, pip, collector build)
# Everything the demo writes (data, logs, telemetry files) goes under .demo/.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

install=true
args=()
for arg in "$@"; do
  case "$arg" in
    --no-install) install=false ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) args+=("$arg") ;;
  esac
done

if $install; then
  bash scripts/install-deps.sh
fi
exec "${PYTHON:-python}" -m examples.demo_bot.launch "${args[@]}"
