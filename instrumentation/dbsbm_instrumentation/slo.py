"""DBSBM's service-level targets: what "working" means for the bot.

The runtime needs them (a latency histogram's buckets must contain its target, or the
p95 cannot be told apart from it); the mixin (``deploy/mixin``) reads them to draw
target lines and to set its alert thresholds. Alert policy itself (``for`` windows,
burn-rate windows, runbook links) is the mixin's, not the runtime's.
"""

from __future__ import annotations

CACHE_HIT_RATIO_MIN = 0.90  # cache hit ratio above 90 %
API_LATENCY_P95_MAX_SECONDS = 0.200  # external API calls: p95 below 200 ms
DB_QUERY_P95_MAX_SECONDS = 0.100  # database queries: p95 below 100 ms
ERROR_RATIO_MAX = 0.001  # command error ratio below 0.1 %: a 99.9 % objective
