"""Agent cost: steady-state RSS of a real ``dbsbm-agent`` and one healthy probe cycle.

Run: ``python benchmarks/bench_agent.py [--warmup 6] [--cycles 60]``. It starts a private
redis-server and MariaDB (tests/services.py) and a loopback ``http.server``, then:

1. RSS: a ``dbsbm-agent`` subprocess probing all of them (1 s intervals, OTLP exporters
   on, aimed at a closed loopback port), then one probing only the host, each sampled
   after warm-up, beside a bare ``python -c 'import asyncio ...'`` process.
   Target: RSS <= 40 MB.
2. Cycle: ``Scheduler.run_once()`` over mysql, redis, http and host, everything healthy:
   wall and CPU time per cycle, beside the same client calls made directly with
   ``asyncio.gather`` (no runner, no timeout, no results). Target: wall <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path

import psutil

from dbsbm_agent.config import load_config
from dbsbm_agent.probers.host import read_host
from dbsbm_agent.scheduler import Scheduler

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
# The private redis-server and MariaDB the tests use (tests/ is not an installed package).
services = importlib.import_module("tests.services")

RSS_TARGET_MB = 40.0
CYCLE_TARGET_MS = 50.0


def mb(value: float) -> str:
    return f"{value / 2**20:6.1f} MB"


def write_config(workdir: Path, http_port: int, interval: float) -> Path:
    path = workdir / "agent.yaml"
    path.write_text(f"""\
probes:
  mysql: {{interval: {interval}, timeout: 1, latency_warn: 1}}
  redis: {{interval: {interval}, timeout: 1}}
  api: {{kind: http, url: "http://127.0.0.1:{http_port}/", interval: {interval}, timeout: 1,
         latency_warn: 1}}
  host: {{interval: {interval}, timeout: 1, warn_ratio: 0.99, fail_ratio: 1.0}}
  discord: {{interval: {interval}, timeout: 1, required: false}}
""")
    return path


def wait_ready(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"the agent did not become ready at {url} within {timeout:.0f} s")


def bench_rss(configs: dict[str, Path], env: dict[str, str], warmup: float) -> None:
    """Each config in its own agent process, all beside one bare baseline process."""
    agent_bin = shutil.which("dbsbm-agent") or sys.exit("dbsbm-agent is not installed")
    agent_env = {
        **os.environ,
        **env,
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{services.free_port()}",
        "OTEL_METRIC_EXPORT_INTERVAL": "60000",
    }
    baseline = subprocess.Popen(
        [sys.executable, "-c", "import asyncio; asyncio.run(asyncio.sleep(3600))"],
        stdout=subprocess.DEVNULL,
    )
    processes = [baseline]
    rss: dict[str, int] = {}
    try:
        for label, config in configs.items():
            port = services.free_port()
            agent = subprocess.Popen(
                [agent_bin, "--config", str(config), "--listen", f"127.0.0.1:{port}"],
                env=agent_env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            processes.append(agent)
            wait_ready(f"http://127.0.0.1:{port}/readyz", 30)
            time.sleep(warmup)
            samples = []
            for _ in range(10):
                samples.append(psutil.Process(agent.pid).memory_info().rss)
                time.sleep(0.3)
            rss[label] = max(samples)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/report", timeout=5) as r:
                report = r.read().decode()
            if '"last_status": "fail"' in report and "host" not in label:
                print(f"  warning: a probe failed during the {label} run:", report)
        rss["baseline: python -c 'import asyncio ...'"] = (
            psutil.Process(baseline.pid).memory_info().rss
        )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                print(f"  warning: pid {process.pid} ignored SIGTERM for 10 s; killed")
                process.kill()
                process.wait()
    bare = rss[next(reversed(rss))]
    print("Steady-state RSS (max of 10 samples after warm-up; OTLP exporters on)")
    for label, value in rss.items():
        verdict = "OK" if value <= RSS_TARGET_MB * 2**20 else "OVER"
        extra = (
            (
                f"  +{mb(value - bare).strip()} over baseline, {value / bare:.2f}x,"
                f" target <= {RSS_TARGET_MB:.0f} MB: {verdict}"
            )
            if "baseline" not in label
            else ""
        )
        print(f"  {label:<48} {mb(value)}{extra}")


async def bench_cycle(config_path: Path, env: dict[str, str], cycles: int) -> None:
    import aiohttp
    import aiomysql
    import redis.asyncio as aioredis

    logging.getLogger("dbsbm_agent").setLevel(logging.ERROR)  # back-to-back host readings
    config = load_config(config_path, env)
    probes = dict(config.probes)
    del probes["discord"]  # skipped without a token: not part of a healthy cycle's cost
    config = type(config)(
        config.source, config.listen, probes, tuple(n for n in config.order if n != "discord")
    )
    scheduler = Scheduler(config)
    mysql, redis_probe, api = (probes[n].settings for n in ("mysql", "redis", "api"))

    async def direct() -> None:
        async def sql() -> None:
            connection = await aiomysql.connect(
                host=mysql.host,
                port=mysql.port,
                user=mysql.user,
                password=mysql.password or "",
                db=mysql.database,
                autocommit=True,
            )
            async with connection.cursor() as cursor:
                await cursor.execute("SELECT 1")
                await cursor.fetchone()
            connection.close()

        async def cache() -> None:
            client = aioredis.Redis(
                host=redis_probe.host, port=redis_probe.port, single_connection_client=True
            )
            await client.ping()
            await client.set("bench", "1", px=2000)
            await client.get("bench")
            await client.delete("bench")
            await client.aclose()

        async def http() -> None:
            async with aiohttp.ClientSession() as session, session.get(api.url) as response:
                assert response.status == 200

        await asyncio.gather(sql(), cache(), http(), asyncio.to_thread(read_host, "/"))

    async def measure(run: Callable[[], Awaitable[None]]) -> tuple[list[float], list[float]]:
        walls, cpus = [], []
        for _ in range(5):
            await run()
        for _ in range(cycles):
            wall, cpu = time.perf_counter(), time.process_time()
            await run()
            walls.append((time.perf_counter() - wall) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
        return walls, cpus

    async def ours() -> None:
        results = await scheduler.run_once()
        # Host readings taken back to back can show 100 % CPU: that is a reading, not
        # a cost, so only the network probes must pass.
        bad = [n for n, r in results.items() if not r.ok and n != "host"]
        if bad:
            raise SystemExit(f"not healthy: {[results[n].output for n in bad]}")

    ours_wall, ours_cpu = await measure(ours)
    bare_wall, bare_cpu = await measure(direct)

    def line(label: str, values: list[float]) -> str:
        values = sorted(values)
        p95 = values[int(len(values) * 0.95) - 1]
        return f"  {label:<42} median {statistics.median(values):7.2f} ms   p95 {p95:7.2f} ms"

    print(f"\nOne healthy probe cycle (mysql, redis, http, host), {cycles} cycles")
    print(line("wall, Scheduler.run_once()", ours_wall))
    print(line("wall, same client calls (gather)", bare_wall))
    print(line("CPU,  Scheduler.run_once()", ours_cpu))
    print(line("CPU,  same client calls (gather)", bare_cpu))
    ratio = statistics.median(ours_wall) / statistics.median(bare_wall)
    verdict = "OK" if statistics.median(ours_wall) <= CYCLE_TARGET_MS else "OVER"
    print(f"  wall ratio ours/direct {ratio:.2f}x   target <= {CYCLE_TARGET_MS:.0f} ms: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=float, default=6.0, help="seconds before sampling RSS")
    parser.add_argument("--cycles", type=int, default=60)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="dbsbm-bench-agent-"))
    redis = services.start_redis(services.service_dir("redis"))
    mysql = services.start_mysql(services.service_dir("mysql"))
    http_port = services.free_port()
    http = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "http.server",
            str(http_port),
            "--bind",
            "127.0.0.1",
            "--directory",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        services.wait_for(lambda: services.port_open(http_port), 10, "http.server")
        env = {**mysql.env, "REDIS_URL": redis.url}
        config = write_config(workdir, http_port, interval=1.0)
        # Client libraries are imported by the prober that uses them: a host-only agent
        # shows what the lazy imports save.
        host_only = workdir / "host-only.yaml"
        host_only.write_text("probes:\n  host: {interval: 1}\n")
        bench_rss(
            {
                "dbsbm-agent (mysql, redis, http, host, discord)": config,
                "dbsbm-agent (host only)": host_only,
            },
            env,
            args.warmup,
        )
        asyncio.run(bench_cycle(config, env, args.cycles))
    finally:
        http.terminate()
        redis.close()
        mysql.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
