#!/usr/bin/env bash
# Install what the tests and the demo need, skipping whatever is already there.
#
# Shared by scripts/test.sh (what CI runs) and scripts/demo.sh, so both use one list:
#   - Debian packages: redis-server, mariadb-server, prometheus (Prometheus 2.42 in
#     Debian 12: it has the remote-write receiver the collector writes to),
#     prometheus-alertmanager (0.25: Discord receiver, amtool);
#   - the repo itself, editable, with the test extra (pip is a no-op when satisfied);
#   - our collector distribution, built once from deploy/otel-collector/builder-config.yaml
#     and cached (scripts/build-collector.sh).
# Usage: scripts/install-deps.sh [--no-collector]
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { echo "install-deps: $*" >&2; }
die() { echo "install-deps: $*" >&2; exit "${2:-1}"; }

build_collector=true
for arg in "$@"; do
  case "$arg" in
    --no-collector) build_collector=false ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$arg' (usage: $0 [--no-collector])" 2 ;;
  esac
done

have() {  # a binary on PATH or in the sbin directories Debian puts daemons in
  command -v "$1" >/dev/null 2>&1 || [[ -x "/usr/sbin/$1" || -x "/usr/bin/$1" ]]
}

packages=()
have redis-server || packages+=(redis-server)
{ have mariadbd && have mariadb-install-db; } || packages+=(mariadb-server)
{ have prometheus && have promtool; } || packages+=(prometheus)
# Alertmanager 0.25 (native Discord receiver) and amtool: the notification tests and the demo.
{ have prometheus-alertmanager && have amtool; } || packages+=(prometheus-alertmanager)
if ((${#packages[@]})); then
  command -v apt-get >/dev/null 2>&1 \
    || die "missing ${packages[*]} and no apt-get here: install them with your package manager"
  log "apt-get install ${packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || die "apt-get update failed"
  # --no-install-recommends keeps the packages' own services and extras out; the tests and
  # the demo start their own server processes on loopback.
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >&2 \
    || die "apt-get install ${packages[*]} failed"
  # The packages' init scripts may have started system-wide servers; we never use them.
  for service in redis-server mariadb prometheus prometheus-alertmanager; do
    if command -v service >/dev/null 2>&1; then service "$service" stop >/dev/null 2>&1 || true; fi
  done
fi

python="${PYTHON:-python}"
command -v "$python" >/dev/null 2>&1 || die "$python not found (need Python >= 3.11)"
log "pip install -e '.[test]'"
"$python" -m pip install -q --disable-pip-version-check --root-user-action=ignore -e "$repo[test]" >&2 \
  || die "pip install -e '.[test]' failed"

if $build_collector; then
  bash "$repo/scripts/build-collector.sh" --print-path >/dev/null \
    || die "building the collector failed (see above)"
fi
log "ok"
