#!/usr/bin/env bash
# Build the local images named in .env.local-images, needing no image registry: a Debian
# 12 base from debootstrap (deploy/images/base/rootfs.sh), and FROM it Redis, MariaDB,
# Prometheus, our collector and the demo bot/agent (deploy/images/<name>/Dockerfile).
#
# The engine comes from scripts/docker-engine.sh (an engine that answers, or a private
# dockerd). The base is rebuilt only when rootfs.sh changes (the image carries its
# sha256 as the label org.dbsbm.recipe); the others go through the engine's layer cache,
# so an unchanged image costs a few seconds. The bot's wheels are fetched with pip on the
# host (Python packages come from PyPI as everywhere else; dependencies are cached per
# pyproject.toml) and the collector is scripts/build-collector.sh's binary.
#
# Usage: scripts/docker-images.sh [NAME...]   NAME: redis mariadb prometheus bot otelcol
#   (default all; the base is always made). The tags are .env.local-images' *_IMAGE
#   values; testcontainers and `docker compose --env-file .env.local-images` use them.
set -euo pipefail

die() { echo "docker-images: $*" >&2; exit 1; }
log() { echo "docker-images: $*" >&2; }

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The collector last: in CI its binary may still be building (scripts/test.sh).
all=(redis mariadb prometheus bot otelcol)
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
names=("$@")
((${#names[@]})) || names=("${all[@]}")
for name in "${names[@]}"; do
  [[ " ${all[*]} " == *" $name "* ]] || {
    echo "docker-images: unknown image '$name' (choose from: ${all[*]})" >&2; exit 2; }
done

cache="${DBSBM_IMAGES_CACHE:-$HOME/.cache/dbsbm-observability/images}"
mkdir -p "$cache"
exec 9>"$cache/lock"
flock 9  # one build at a time; a second caller then finds everything cached

host="$(bash "$repo/scripts/docker-engine.sh" start)" || exit 1
export DOCKER_HOST="$host"
# The daemon's own (classic) builder: Debian's 20.10 engine with a newer client would
# otherwise want the buildx plugin for BuildKit.
export DOCKER_BUILDKIT=0

tag() {  # the value of VARIABLE in .env.local-images
  local value
  value="$(sed -n "s/^$1=//p" "$repo/.env.local-images")"
  [[ -n "$value" ]] || die "$1 is not set in $repo/.env.local-images"
  echo "$value"
}

timed() {  # timed LABEL COMMAND...: run, and log how long it took
  local label=$1 start=$SECONDS
  shift
  "$@" || die "$label failed (see above)"
  log "$label: $((SECONDS - start))s"
}

build() {  # build TAG CONTEXT [DOCKERFILE]; errors shown, the legacy builder's notice not
  docker build -q --force-rm --build-arg "BASE_IMAGE=$base" -t "$1" -f "${3:-$2/Dockerfile}" "$2" \
    2>&1 >/dev/null \
    | grep -v -e '^DEPRECATED: The legacy builder' -e 'BuildKit is currently disabled' \
        -e '^ *environment-variable\.$' -e '^$' >&2
  return "${PIPESTATUS[0]}"
}

# ******************
# The base image
# ******************
base="$(tag DBSBM_BASE_IMAGE)"
recipe="$repo/deploy/images/base/rootfs.sh"
digest="$(sha256sum "$recipe" | cut -d' ' -f1)"
have="$(docker image inspect --format '{{index .Config.Labels "org.dbsbm.recipe"}}' "$base" 2>/dev/null || true)"
if [[ "$have" == "$digest" ]]; then
  log "base $base: cached"
else
  if ! command -v debootstrap >/dev/null 2>&1 && [[ ! -x /usr/sbin/debootstrap ]]; then
    command -v apt-get >/dev/null 2>&1 || die "debootstrap is missing and there is no apt-get"
    log "apt-get install debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >&2 \
      || { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive \
             apt-get install -y -qq --no-install-recommends debootstrap >&2; } \
      || die "apt-get install debootstrap failed"
  fi
  rootfs="$(mktemp -d "$cache/rootfs.XXXXXX")"
  trap 'rm -rf "$rootfs"' EXIT
  import_base() {
    # debootstrap's hundreds of progress lines go to a log, shown only when it fails.
    PATH="$PATH:/usr/sbin:/sbin" bash "$recipe" "$rootfs" 2>"$cache/base.log" \
      || { tail -n 20 "$cache/base.log" >&2; return 1; }
    tar -C "$rootfs" --numeric-owner -c . \
         | docker import --change "LABEL org.dbsbm.recipe=$digest" \
             --change 'ENV LANG=C.UTF-8' --change 'CMD ["bash"]' - "$base" >/dev/null
  }
  timed "base $base (debootstrap)" import_base
  rm -rf "$rootfs"
fi

# ******************
# Images FROM the base
# ******************
for name in "${names[@]}"; do
  case "$name" in
    redis) timed "redis $(tag REDIS_IMAGE)" build "$(tag REDIS_IMAGE)" "$repo/deploy/images/redis" ;;
    mariadb) timed "mariadb $(tag MYSQL_IMAGE)" build "$(tag MYSQL_IMAGE)" "$repo/deploy/images/mariadb" ;;
    prometheus)
      timed "prometheus $(tag PROMETHEUS_IMAGE)" \
        build "$(tag PROMETHEUS_IMAGE)" "$repo/deploy/images/prometheus" ;;
    otelcol)
      # The cache .ci/run uses, so a fresh clone reuses the binary.
      binary="$(DBSBM_OTELCOL_CACHE="${DBSBM_OTELCOL_CACHE:-$HOME/.cache/dbsbm-observability/otelcol}" \
        bash "$repo/scripts/build-collector.sh" --print-path)" || die "collector build failed"
      # The registry image's context (its configs and scripts) plus the binary.
      context="$cache/context/otelcol"
      rm -rf "$context" && mkdir -p "$(dirname "$context")"
      cp -r "$repo/deploy/otel-collector" "$context"
      cp "$binary" "$context/otelcol-dbsbm"
      timed "otelcol $(tag COLLECTOR_IMAGE)" \
        build "$(tag COLLECTOR_IMAGE)" "$context" "$repo/deploy/images/otelcol/Dockerfile" ;;
    bot)
      python="${PYTHON:-python3}"
      context="$cache/context/bot"
      rm -rf "$context" && mkdir -p "$context/wheels/own"
      fetch_wheels() {
        "$python" -m pip wheel -q --no-deps -w "$context/wheels/own" "$repo" >&2 || return 1
        local own deps
        own="$(ls "$context"/wheels/own/*.whl)"
        # Third-party wheels for Debian 12's CPython 3.11.2, whatever Python the host runs.
        # pip evaluates environment markers against the host's interpreter, not the target:
        # a requirement only 3.11.2 needs is named here (redis wants async-timeout below
        # 3.11.3), and the image's `pip check` fails the build when another one is missing.
        local target=(--python-version 3.11.2 --implementation cp --abi cp311 --abi abi3
          --abi none --platform manylinux_2_36_x86_64 --platform manylinux_2_28_x86_64
          --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any)
        local extra=(async-timeout)
        deps="$cache/wheels/$(cat "$repo/pyproject.toml" <(echo "${target[*]} ${extra[*]}") \
          | sha256sum | cut -d' ' -f1)"
        if [[ ! -d "$deps" ]]; then
          rm -rf "$deps.tmp"
          "$python" -m pip download -q --dest "$deps.tmp" --only-binary=:all: "${target[@]}" \
            "${own}[aiomysql,discord,agent]" "${extra[@]}" >&2 || return 1
          rm -f "$deps.tmp/$(basename "$own")"
          mv "$deps.tmp" "$deps"
        fi
        cp -r "$deps" "$context/wheels/deps"
      }
      timed "bot wheels" fetch_wheels
      cp -r "$repo/examples" "$context/examples"
      find "$context/examples" -name __pycache__ -prune -exec rm -rf {} +
      timed "bot $(tag DEMO_BOT_IMAGE)" \
        build "$(tag DEMO_BOT_IMAGE)" "$context" "$repo/deploy/images/bot/Dockerfile" ;;
  esac
done
log "ok (DOCKER_HOST=$DOCKER_HOST)"
