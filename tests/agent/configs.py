"""Agent config files built in code, shared by the tests and benchmarks/bench_agent_config.py."""

from __future__ import annotations

from dbsbm_agent import config as agent_config


def largest_config() -> str:
    """MAX_PROBES http probes with every common setting: the biggest file we accept."""
    lines = ["probes:"]
    for i in range(agent_config.MAX_PROBES):
        lines.append(
            f"  api{i:04d}: {{kind: http, url: 'https://api{i}.example.com/v3/status', "
            "method: GET, expected_status: [200, 204], interval: 60, timeout: 5, "
            "required: false, latency_warn: 0.5, headers: {accept: application/json}}"
        )
    return "\n".join(lines) + "\n"
