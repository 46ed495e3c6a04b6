"""The probe kinds: one module each, found here and gathered into :data:`KINDS`.

Every module in this package except :mod:`.base` is a probe kind and declares
``KIND``, a :class:`~.base.ProbeKind`. The config schema (which kinds exist, which keys
each accepts), the runner's prober map, /health's component types and the extra
instruments are all built from :data:`KINDS`, so adding a kind is adding a module
(see CONTRIBUTING.md, "Adding a probe kind").
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from .base import ProbeKind, Prober


def _discover() -> dict[str, ProbeKind[Any]]:
    # A directory listing rather than pkgutil, which the agent would load for this alone.
    names = sorted(
        entry[: -len(".py")]
        for entry in os.listdir(os.path.dirname(__file__))
        if entry.endswith(".py") and entry not in ("__init__.py", "base.py")
    )
    kinds: dict[str, ProbeKind[Any]] = {}
    for name in names:
        kind = importlib.import_module(f"{__name__}.{name}").KIND
        if not isinstance(kind, ProbeKind) or kind.name != name:
            raise TypeError(f"{__name__}.{name}.KIND must be a ProbeKind named {name!r}")
        kinds[name] = kind
    return kinds


KINDS: dict[str, ProbeKind[Any]] = _discover()
PROBERS: dict[str, Prober] = {name: kind.prober for name, kind in KINDS.items()}
