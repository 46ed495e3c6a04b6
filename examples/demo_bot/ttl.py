"""Lifetimes of the demo's short-lived cache entries, spread so they do not expire together.

Entries written at the same moment (a cache warmed at start-up) would otherwise all expire
in the same second, and the misses that follow would come as one burst: a dip of the hit
ratio that no fault caused. Each entry lives between its TTL and one and a half times it.
"""

from __future__ import annotations

import random

ODDS_TTL = 60  # odds move
STATS_TTL = 120  # a user's bet totals: a minute or two old is fine
LEADERBOARD_TTL = 60


def spread(ttl: int) -> int:
    """``ttl`` plus up to half of it, at random (spreading expiry, not security)."""
    return ttl + random.randrange(ttl // 2 + 1)
