#!/usr/bin/env bash
# A Docker engine for the tests and docker-compose.yml, without systemd.
#
# Where an engine already answers (DOCKER_HOST, the current docker context, or the default
# socket) it is used as it is and nothing is started. Otherwise, as root on Linux, this
# installs Debian's engine (docker.io) if dockerd is missing and starts a private dockerd
# with its own state under ${DBSBM_DOCKER_STATE:-$HOME/.cache/dbsbm-observability/docker}:
# data-root data/ (images and volumes; kept across stops, so images stay cached),
# exec-root exec/, pidfile dockerd.pid, log dockerd.log and socket docker.sock. A second
# call finds that socket answering and reuses the running engine.
#
# Usage: scripts/docker-engine.sh [start|env|stop|status]
#   start   make sure an engine answers; print its DOCKER_HOST as the last line of stdout
#   env     the same, printed as `export DOCKER_HOST=...` for eval:
#             eval "$(bash scripts/docker-engine.sh env)"
#   stop    stop the private dockerd (never an engine this script did not start) and
#           remove its socket, pidfile and exec-root; images and volumes stay in data/
#   status  exit 0 when an engine answers, and print its DOCKER_HOST
# Testcontainers and `docker compose` both read DOCKER_HOST. No registry is needed
# afterwards: scripts/docker-images.sh builds the images named in .env.local-images
# (REDIS_IMAGE, MYSQL_IMAGE, PROMETHEUS_IMAGE, COLLECTOR_IMAGE, DEMO_BOT_IMAGE), and
# testcontainers must run without its Ryuk reaper (TESTCONTAINERS_RYUK_DISABLED=true),
# whose image cannot be pulled. When dockerd cannot start (not root, not Linux, no
# cgroups, no overlay file system, or it exits) the reason is one line on stderr, exit 1.
set -euo pipefail

die() { echo "docker-engine: $*" >&2; exit 1; }
log() { echo "docker-engine: $*" >&2; }

action="${1:-start}"
case "$action" in
  start|env|stop|status) ;;
  -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "docker-engine: unknown action '$action' (usage: $0 [start|env|stop|status])" >&2
     exit 2 ;;
esac

state="${DBSBM_DOCKER_STATE:-$HOME/.cache/dbsbm-observability/docker}"
socket="$state/docker.sock"
private_host="unix://$socket"
pidfile="$state/dockerd.pid"
logfile="$state/dockerd.log"

answers() {  # does an engine answer at this DOCKER_HOST ("" = the client's own default)?
  command -v docker >/dev/null 2>&1 || [[ -x /usr/bin/docker ]] || return 1
  local client
  client="$(command -v docker || echo /usr/bin/docker)"
  if [[ -n "$1" ]]; then
    DOCKER_HOST="$1" timeout 10 "$client" version --format '{{.Server.Version}}' >/dev/null 2>&1
  else
    (unset DOCKER_HOST; timeout 10 "$client" version --format '{{.Server.Version}}' >/dev/null 2>&1)
  fi
}

existing_host() {  # the DOCKER_HOST of an engine that already answers, if any
  if [[ -n "${DOCKER_HOST:-}" ]] && answers "$DOCKER_HOST"; then
    echo "$DOCKER_HOST"
  elif answers "$private_host"; then
    echo "$private_host"
  elif answers ""; then
    # The current docker context (a laptop's Docker Desktop) or the default socket.
    (unset DOCKER_HOST; docker context inspect --format '{{.Endpoints.docker.Host}}' 2>/dev/null) \
      || echo "unix:///var/run/docker.sock"
  else
    return 1
  fi
}

private_pid() {  # the pid of our dockerd, when it is still running
  [[ -f "$pidfile" ]] || return 1
  local pid
  pid="$(cat "$pidfile")"
  # After a reboot or a kill -9 the pidfile stays, and its number may be another process.
  [[ -n "$pid" && "$(cat "/proc/$pid/comm" 2>/dev/null)" == dockerd ]] && echo "$pid"
}

why_dockerd_cannot_start() {  # one reason, or nothing when it should start
  if [[ "$(uname -s)" != Linux ]]; then
    echo "not Linux ($(uname -s)): start Docker Desktop or another engine and set DOCKER_HOST"
  elif [[ "$(id -u)" != 0 ]]; then
    echo "not root (uid $(id -u)): dockerd needs root; start an engine and set DOCKER_HOST"
  elif ! grep -qw cgroup2 /proc/filesystems && ! grep -qw cgroup /proc/filesystems; then
    echo "no cgroups: the kernel lists no cgroup file system in /proc/filesystems"
  elif ! grep -qs ' /sys/fs/cgroup' /proc/mounts; then
    echo "no cgroups: nothing is mounted on /sys/fs/cgroup"
  elif ! grep -qw overlay /proc/filesystems && ! modprobe overlay 2>/dev/null; then
    echo "no overlay file system: /proc/filesystems lacks overlay and 'modprobe overlay' failed"
  fi
}

install_engine() {
  command -v apt-get >/dev/null 2>&1 \
    || die "dockerd is not installed and there is no apt-get here to install docker.io"
  log "apt-get install docker.io (Debian's engine)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || die "apt-get update failed"
  # The package's service start is refused without an init system; we start our own.
  apt-get install -y -qq --no-install-recommends docker.io >&2 \
    || die "apt-get install docker.io failed"
}

clear_exec_root() {  # dockerd leaves its netns bind-mounted there; rm alone cannot go
  local mounts
  mounts="$(awk -v root="$state/exec/" 'index($2, root) == 1 { print $2 }' /proc/mounts | sort -r)"
  [[ -z "$mounts" ]] || xargs -r umount -l <<<"$mounts" 2>/dev/null || true
  rm -rf "$state/exec"
}

start_private() {
  local reason
  reason="$(why_dockerd_cannot_start)"
  [[ -z "$reason" ]] || die "dockerd cannot start: $reason"
  local running
  if running="$(private_pid)"; then
    die "dockerd cannot start: dockerd $running already runs on $state but does not answer" \
      "on $private_host (see $logfile; '$0 stop' stops it)"
  fi
  [[ -x /usr/sbin/dockerd ]] || command -v dockerd >/dev/null 2>&1 || install_engine
  # Stale files of a dockerd that died (or of a machine that rebooted) block a new one.
  rm -rf "$socket" "$pidfile"
  clear_exec_root
  mkdir -p "$state/data" "$state/exec"
  log "starting dockerd (state in $state, log $logfile)"
  local start=$SECONDS
  # setsid: the engine outlives this script and the shell that ran it; 9>&- keeps the
  # starters' lock out of it.
  setsid "$(command -v dockerd || echo /usr/sbin/dockerd)" \
    --data-root "$state/data" --exec-root "$state/exec" --pidfile "$pidfile" \
    --host "$private_host" --storage-driver overlay2 \
    >"$logfile" 2>&1 </dev/null 9>&- &
  local pid=$!
  for _ in $(seq 1 120); do
    if answers "$private_host"; then
      log "dockerd $pid answers on $private_host after $((SECONDS - start))s"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      local last
      last="$(grep -E 'level=(fatal|error)|failed' "$logfile" | tail -n 1 || true)"
      die "dockerd cannot start: it exited (${last:-see $logfile})"
    fi
    sleep 0.5
  done
  kill "$pid" 2>/dev/null || true
  die "dockerd cannot start: no answer on $private_host within 60s (see $logfile)"
}

stop_private() {
  local pid
  if ! pid="$(private_pid)"; then
    log "no private dockerd running (nothing to stop)"
  else
    log "stopping dockerd $pid"
    kill -TERM "$pid"
    # dockerd stops its containers first (up to its 15 s shutdown timeout each, in parallel).
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then
      log "dockerd $pid still running after 30s; sending KILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -rf "$socket" "$pidfile"
  clear_exec_root
}

case "$action" in
  stop) stop_private; exit 0 ;;
  status)
    host="$(existing_host)" || { echo "docker-engine: no engine answers" >&2; exit 1; }
    echo "$host"; exit 0 ;;
esac

mkdir -p "$state"
# One starter at a time: parallel test sessions share one engine.
exec 9>"$state/lock"
flock 9
if ! host="$(existing_host)"; then
  start_private
  host="$private_host"
fi
if [[ "$action" == env ]]; then
  printf 'export DOCKER_HOST=%q\n' "$host"
else
  echo "$host"
fi
