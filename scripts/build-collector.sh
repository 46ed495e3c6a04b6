#!/usr/bin/env bash
# Build the dbsbm OpenTelemetry Collector from deploy/otel-collector/builder-config.yaml
# with the OpenTelemetry Collector Builder (ocb), through the Go module proxy.
#
# The binary is cached under ${DBSBM_OTELCOL_CACHE:-<repo>/.cache/otelcol}/<sha256 of the
# manifest>/otelcol-dbsbm, so it is rebuilt only when the manifest changes.
#
# Usage: scripts/build-collector.sh [--print-path]
#   --print-path  print the binary's path as the last line of stdout (progress goes to stderr)
set -euo pipefail

die() { local code=$1; shift; echo "build-collector: $*" >&2; exit "$code"; }
log() { echo "build-collector: $*" >&2; }

print_path=false
for arg in "$@"; do
  case "$arg" in
    --print-path) print_path=true ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die 2 "unknown argument '$arg' (usage: $0 [--print-path])" ;;
  esac
done

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
manifest="$repo/deploy/otel-collector/builder-config.yaml"
[[ -f "$manifest" ]] || die 2 "manifest not found: $manifest"
# The builder's release is the core collector's release the manifest names (ocb checks
# that they match), so the manifest stays the one place that names a version.
BUILDER_VERSION="$(sed -n 's|.*collector/receiver/otlpreceiver \(v[0-9.]*\).*|\1|p' "$manifest")"
[[ -n "$BUILDER_VERSION" ]] || die 2 "no otlpreceiver version in $manifest (it names the release)"

digest="$(sha256sum "$manifest" | cut -d' ' -f1)"
cache_root="${DBSBM_OTELCOL_CACHE:-$repo/.cache/otelcol}"
out_dir="$cache_root/$digest"
binary="$out_dir/otelcol-dbsbm"

mkdir -p "$cache_root"
if [[ ! -x "$binary" ]]; then
  # One build per manifest at a time: a second caller (CI starts the build beside its
  # Docker setup, whose collector image asks for the binary too) waits, then finds it.
  exec 8>"$cache_root/$digest.lock"
  flock 8
fi
if [[ -x "$binary" ]]; then
  log "cached: $binary"
else
  command -v go >/dev/null 2>&1 \
    || die 1 "Go is not installed (need go >= 1.26 on PATH to build the collector)"
  gobin="$(go env GOPATH)/bin"
  builder="$gobin/builder"
  if ! { [[ -x "$builder" ]] && "$builder" version 2>&1 | grep -q "$BUILDER_VERSION"; }; then
    log "installing builder $BUILDER_VERSION"
    GOFLAGS=-trimpath go install "go.opentelemetry.io/collector/cmd/builder@$BUILDER_VERSION" >&2 \
      || die 1 "could not install go.opentelemetry.io/collector/cmd/builder@$BUILDER_VERSION"
  fi

  work="$(mktemp -d "$cache_root/build.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  log "building from $manifest (this takes several minutes on 2 cores)"
  start=$SECONDS
  # The builder writes its generated sources and binary to the manifest's relative
  # output_path, resolved against the working directory. It already compiles with
  # -trimpath and -ldflags="-s -w" (debug_compilation is off), which keeps the binary small.
  # GOFLAGS=-e reaches only `go mod tidy` (go commands ignore GOFLAGS entries they do not
  # know): tidy also resolves the *tests* of our dependencies, and the fileexporter's
  # tests import otlpencodingextension v0.160.0, which the module proxy does not serve.
  # Nothing in the binary needs it; a module the build does need still fails `go build`.
  (cd "$work" && CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -e -buildvcs=false" \
      "$builder" --config="$manifest" >&2) \
    || die 1 "builder failed for $manifest (see the output above)"
  built="$work/_build/otelcol-dbsbm"
  [[ -x "$built" ]] || die 1 "builder finished but produced no binary at $built"
  mkdir -p "$out_dir"
  # A unique name, then an atomic rename: concurrent builds (parallel test runs) never
  # see or leave a half-written binary.
  mv "$built" "$binary.$$" && mv "$binary.$$" "$binary"
  elapsed=$((SECONDS - start))
  size="$(du -h "$binary" | cut -f1)"
  log "built $binary in ${elapsed}s, size ${size} ($(stat -c %s "$binary") bytes)"
fi

if $print_path; then
  echo "$binary"
fi
