"""How the mixin writes YAML: block style, keys in definition order, no anchors."""

from __future__ import annotations

from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # shared dicts would become &id001 anchors
        return True


def yaml_text(document: Any) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=1000)
