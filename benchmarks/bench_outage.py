"""What a collector outage loses, and what the export buffer costs, in one run:

* loss table: the collector killed (-9) or stopped (SIGTERM) for each duration while a
  bot emits 20 spans, log records and counter increments a second through
  ``configure_telemetry()`` (tests/bootstrap/outage.py stages it, counting what the
  built collector wrote to its file sink) -> sent / received / lost per signal, and the
  counter's cumulative total received (goal: 0 lost everywhere within the buffer bound);
* span start+end with the collector up, export buffer on (the default) vs off
  (``DBSBM_OTLP_BUFFER_MAX_ITEMS=0``): target <= 1.05x. The buffer runs in the export
  thread, so this is the bot thread's cost measured in fresh interpreters
  (benchmarks/bench_export.py's child), alternating rounds, best of each.

    python benchmarks/bench_outage.py [--durations 10,120] [--rounds 5]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.bench_export import collector_up, run_child  # noqa: E402  # needs the repo root, put on sys.path above
from tests.bootstrap.outage import stage  # noqa: E402  # needs the repo root, put on sys.path above
from tests.services import service_dir  # noqa: E402  # needs the repo root, put on sys.path above

KINDS = ("kill -9", "SIGTERM")


def loss_table(durations: list[float]) -> None:
    print("outage    down  | spans sent/recv/lost | logs sent/recv/lost | counter sent/recv")
    for seconds in durations:
        for how in KINDS:
            outcome = stage(service_dir("bench-outage"), how, down_s=seconds)
            sent, got = outcome.sent, outcome.received
            spans = len(got.spans & set(range(sent)))
            records = len(got.records & set(range(sent)))
            print(
                f"{how:8s} {seconds:5.0f} s | {sent:5d} {spans:5d} {sent - spans:5d}      "
                f"| {sent:5d} {records:5d} {sent - records:5d}     | {sent:5d} {got.count:5d}"
            )
            for line in outcome.stderr.splitlines():
                print(f"    stderr: {line[:150]}")


def buffer_cost(rounds: int) -> None:
    label, up = collector_up()
    endpoint = getattr(up, "otlp_http_endpoint", None) or up.endpoint
    try:
        on: list[float] = []
        off: list[float] = []
        for _ in range(rounds):
            on.append(float(run_child("spans", endpoint)["span_us"]))
            no_buffer = {"DBSBM_OTLP_BUFFER_MAX_ITEMS": "0"}
            off.append(float(run_child("spans", endpoint, extra_env=no_buffer)["span_us"]))
    finally:
        up.close()
    print(f"span start+end, collector up ({label}), best of {rounds} alternating rounds:")
    print(f"  buffer on  {min(on):7.2f} us   (rounds: {', '.join(f'{v:.1f}' for v in on)})")
    print(f"  buffer off {min(off):7.2f} us   (rounds: {', '.join(f'{v:.1f}' for v in off)})")
    print(f"  ratio on/off: {min(on) / min(off):.3f}x (target <= 1.05x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--durations", default="10,120", help="outage lengths, seconds")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    buffer_cost(args.rounds)
    loss_table([float(d) for d in args.durations.split(",")])


if __name__ == "__main__":
    main()
