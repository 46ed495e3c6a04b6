"""scripts/build-collector.sh caches the collector by manifest digest.

The Go toolchain and the Collector Builder are stood in for by two small scripts on PATH
(a real build takes minutes and is exercised by every test that starts the collector):
what is checked here is the script's own logic — build once, reuse the cached binary,
rebuild when the manifest changes.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

from tests.services import REPO

FAKE_GO = """#!/bin/sh
# Stand-in for `go env GOPATH` and `go install .../builder@VERSION`.
case "$1" in
  env) echo "$FAKE_GOPATH" ;;
  install) mkdir -p "$FAKE_GOPATH/bin"; cp "$FAKE_BUILDER" "$FAKE_GOPATH/bin/builder" ;;
esac
"""

FAKE_BUILDER = """#!/bin/sh
# Stand-in for ocb: `builder version`, and `builder --config=...` writing _build/otelcol-dbsbm.
if [ "$1" = version ]; then echo "builder version $BUILDER_VERSION"; exit 0; fi
echo build >> "$BUILD_LOG"
mkdir -p _build && printf '#!/bin/sh\\n' > _build/otelcol-dbsbm && chmod +x _build/otelcol-dbsbm
"""


def _executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_builds_once_and_rebuilds_only_when_the_manifest_changes(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    (repo / "deploy/otel-collector").mkdir(parents=True)
    shutil.copy(REPO / "scripts/build-collector.sh", repo / "scripts")
    manifest = repo / "deploy/otel-collector/builder-config.yaml"
    shutil.copy(REPO / "deploy/otel-collector/builder-config.yaml", manifest)
    version = next(
        line.split()[-1]
        for line in manifest.read_text().splitlines()
        if "collector/receiver/otlpreceiver" in line
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _executable(bin_dir / "go", FAKE_GO)
    _executable(tmp_path / "builder", FAKE_BUILDER)
    log = tmp_path / "builds.log"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE_GOPATH": str(tmp_path / "gopath"),
        "FAKE_BUILDER": str(tmp_path / "builder"),
        "BUILDER_VERSION": version,
        "BUILD_LOG": str(log),
        "DBSBM_OTELCOL_CACHE": str(tmp_path / "cache"),
    }

    def build() -> Path:
        done = subprocess.run(
            ["bash", str(repo / "scripts/build-collector.sh"), "--print-path"],
            check=False,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return Path(done.stdout.splitlines()[-1])

    def builds() -> int:
        return len(log.read_text().splitlines()) if log.exists() else 0

    first = build()
    assert first.is_file() and os.access(first, os.X_OK)
    assert first.parent.parent == tmp_path / "cache"
    assert builds() == 1
    assert build() == first and builds() == 1  # cached: no second build
    manifest.write_text(manifest.read_text() + "# changed\n")
    second = build()
    assert second != first and builds() == 2  # a new manifest digest: rebuilt
    assert not list((tmp_path / "cache").glob("build.*"))  # no build directory left behind
