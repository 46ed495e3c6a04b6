#!/usr/bin/env bash
# Build Docker Compose v2 from its released Go module (deploy/compose/), cached like the
# collector: ${DBSBM_COMPOSE_CACHE:-$HOME/.cache/dbsbm-observability/compose}/<sha256 of
# deploy/compose/{go.mod,go.sum,main.go}>/docker-compose, rebuilt only when they change.
#
# Why v2 built here: Debian 12 ships only Compose v1 (docker-compose 1.29, end of life
# since 2023, without the Compose Specification features docker-compose.yml and the
# overrides use: `!reset`, `--wait`, COMPOSE_FILE from --env-file), and Docker's own
# packages come from a registry this project cannot use. `go install
# github.com/docker/compose/v2/cmd@...` refuses the module for its go.mod's exclude
# directives; deploy/compose/ is a main module that repeats them (see its main.go).
# The binary runs standalone (`docker-compose up`) or as a CLI plugin
# (~/.docker/cli-plugins/docker-compose, for `docker compose up`).
#
# Usage: scripts/docker-compose.sh [--print-path]
#   --print-path  print the binary's path as the last line of stdout (progress on stderr)
set -euo pipefail

die() { local code=$1; shift; echo "docker-compose: $*" >&2; exit "$code"; }
log() { echo "docker-compose: $*" >&2; }

print_path=false
for arg in "$@"; do
  case "$arg" in
    --print-path) print_path=true ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die 2 "unknown argument '$arg' (usage: $0 [--print-path])" ;;
  esac
done

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
module="$repo/deploy/compose"
version="$(sed -n 's|^[[:space:]]*github.com/docker/compose/v2 \(v[0-9.]*\).*|\1|p' "$module/go.mod")"
[[ -n "$version" ]] || die 2 "$module/go.mod requires no github.com/docker/compose/v2 version"

digest="$(cat "$module/go.mod" "$module/go.sum" "$module/main.go" | sha256sum | cut -d' ' -f1)"
cache_root="${DBSBM_COMPOSE_CACHE:-$HOME/.cache/dbsbm-observability/compose}"
binary="$cache_root/$digest/docker-compose"

if [[ -x "$binary" ]]; then
  log "cached: $binary ($version)"
else
  command -v go >/dev/null 2>&1 \
    || die 1 "Go is not installed (need go >= 1.24 on PATH to build Docker Compose)"
  mkdir -p "$cache_root/$digest"
  log "building Docker Compose $version from $module (several minutes on 2 cores)"
  start=$SECONDS
  # Compose's own release flags: a static binary, its version stamped where `version`
  # and the CLI-plugin metadata read it.
  (cd "$module" && CGO_ENABLED=0 go build -trimpath -o "$binary.$$" \
      -ldflags "-s -w -X main.version=$version -X github.com/docker/compose/v2/internal.Version=$version" \
      . >&2) || { rm -f "$binary.$$"; die 1 "go build of $module failed (see the output above)"; }
  # An atomic rename: a concurrent caller never runs a half-written binary.
  mv "$binary.$$" "$binary"
  log "built $binary in $((SECONDS - start))s"
fi

if $print_path; then
  echo "$binary"
fi
