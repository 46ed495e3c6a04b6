#!/usr/bin/env bash
# Write a runnable Alertmanager configuration to OUTPUT_DIR: alertmanager.yml from this
# folder with the Discord webhook (DISCORD_ALERT_WEBHOOK_URL, required) and the role that
# critical alerts mention (DISCORD_CRITICAL_ROLE_ID, optional) substituted, since
# Alertmanager 0.25 cannot read them from the environment itself, and dbsbm.tmpl beside it.
# Then:
#   prometheus-alertmanager --config.file=OUTPUT_DIR/alertmanager.yml
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 OUTPUT_DIR" >&2
  exit 2
fi
if [[ -z "${DISCORD_ALERT_WEBHOOK_URL:-}" ]]; then
  echo "render.sh: DISCORD_ALERT_WEBHOOK_URL is not set (the Discord webhook to notify)" >&2
  exit 2
fi
if [[ -n "${DISCORD_CRITICAL_ROLE_ID:-}" && ! "$DISCORD_CRITICAL_ROLE_ID" =~ ^[0-9]+$ ]]; then
  echo "render.sh: DISCORD_CRITICAL_ROLE_ID must be a numeric Discord role id" >&2
  exit 2
fi
export DISCORD_CRITICAL_ROLE_ID="${DISCORD_CRITICAL_ROLE_ID:-}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$1"
# Only these two names are substituted: the templates' own $ signs stay as they are.
envsubst '${DISCORD_ALERT_WEBHOOK_URL} ${DISCORD_CRITICAL_ROLE_ID}' \
  <"$here/alertmanager.yml" >"$1/alertmanager.yml"
cp "$here/dbsbm.tmpl" "$1/dbsbm.tmpl"
