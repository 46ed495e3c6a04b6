"""Constant folding of string expressions, shared by the rules that need a value's text.

A secret split into parts and joined (``"MTA4" + "NzY1"``, ``"".join(PARTS)``,
``"{}.{}".format(A, B)``, ``f"{P1}{P2}"``, ``base64.b64decode("...").decode()``) is a literal
at run time, and neither bandit nor detect-secrets sees it: they look at one literal at a time.
``Folder`` computes such values from literals and from names bound once in the enclosing
function or the module, and remembers the lines the parts came from (the data-flow path).
Anything that depends on input, the environment or a call we do not model does not fold.
"""

from __future__ import annotations

import ast
import base64
import binascii
from dataclasses import dataclass, field

_MAX_DEPTH = 12
_MAX_LENGTH = 4096  # longer values are data, not a credential


@dataclass(frozen=True)
class Folded:
    value: str
    assembled: bool  # built from more than one literal, or reached through a name
    lines: tuple[int, ...] = field(default=())  # where the literal parts are


_REBOUND = ast.Constant(None)  # a binding that never folds: the name changes at run time


def _bindings(nodes: list[ast.AST]) -> dict[str, list[ast.expr]]:
    """Values assigned to plain names among a scope's own nodes (``Scopes.own``)."""
    found: dict[str, list[ast.expr]] = {}
    for node in nodes:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found.setdefault(target.id, []).append(node.value)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if node.value is not None:
                found.setdefault(node.target.id, []).append(node.value)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            found.setdefault(node.target.id, []).append(_REBOUND)  # x += ...: not a constant
        elif isinstance(node, (ast.For, ast.AsyncFor)) and isinstance(node.target, ast.Name):
            found.setdefault(node.target.id, []).extend([_REBOUND, _REBOUND])
    return found


class Folder:
    """Folds expressions of one scope; names not bound there are looked up in ``parent``
    (a function's folder has the module's as parent)."""

    def __init__(self, nodes: list[ast.AST], parent: Folder | None = None) -> None:
        self.names = _bindings(nodes)
        self.parent = parent

    def scope(self, nodes: list[ast.AST]) -> Folder:
        """The folder of a function of this module, given its own nodes."""
        return Folder(nodes, self)

    def _binding(self, name: str) -> ast.expr | None:
        values = self.names.get(name)
        if values is not None:
            return values[0] if len(values) == 1 else None
        return self.parent._binding(name) if self.parent else None

    def fold(self, node: ast.AST | None, depth: int = 0) -> Folded | None:
        if node is None or depth > _MAX_DEPTH:
            return None
        result = self._fold(node, depth + 1)
        if result is not None and len(result.value) > _MAX_LENGTH:
            return None
        return result

    def _fold(self, node: ast.AST, depth: int) -> Folded | None:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str):
                return Folded(node.value, False, (node.lineno,))
            if isinstance(node.value, bytes):
                return Folded(node.value.decode("latin-1"), False, (node.lineno,))
            return None
        if isinstance(node, ast.Name):
            bound = self._binding(node.id)
            inner = self.fold(bound, depth) if bound is not None else None
            return Folded(inner.value, True, inner.lines) if inner else None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self._join("", [node.left, node.right], depth)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            return self._percent(node, depth)
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                if isinstance(value, ast.FormattedValue):
                    if value.format_spec is not None:
                        return None
                    parts.append(value.value)
                else:
                    parts.append(value)
            return self._join("", parts, depth, force=True)
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
            return self._reversed(node, depth)
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        return None

    def _join(
        self, sep: str, parts: list[ast.expr], depth: int, force: bool = False
    ) -> Folded | None:
        folded = [self.fold(p, depth) for p in parts]
        if any(f is None for f in folded):
            return None
        done = [f for f in folded if f is not None]
        lines = tuple(n for f in done for n in f.lines)
        assembled = force or len(done) > 1 or any(f.assembled for f in done)
        return Folded(sep.join(f.value for f in done), assembled, lines)

    def _percent(self, node: ast.BinOp, depth: int) -> Folded | None:
        left = self.fold(node.left, depth)
        right = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
        args = [self.fold(r, depth) for r in right]
        if left is None or any(a is None for a in args):
            return None
        done = [a for a in args if a is not None]
        try:
            value = left.value % tuple(a.value for a in done)
        except (TypeError, ValueError, KeyError):
            return None
        return Folded(value, True, left.lines + tuple(n for a in done for n in a.lines))

    def _reversed(self, node: ast.Subscript, depth: int) -> Folded | None:
        s = node.slice
        if not isinstance(s, ast.Slice) or s.lower or s.upper:
            return None
        if not (isinstance(s.step, ast.UnaryOp) and ast.unparse(s.step) == "-1"):
            return None
        inner = self.fold(node.value, depth)
        return Folded(inner.value[::-1], True, inner.lines) if inner else None

    def _call(self, node: ast.Call, depth: int) -> Folded | None:
        func = node.func
        if isinstance(func, ast.Name) and func.id == "str" and len(node.args) == 1:
            return self.fold(node.args[0], depth)
        if not isinstance(func, ast.Attribute):
            return None
        if func.attr == "join" and len(node.args) == 1:
            sep = self.fold(func.value, depth)
            items = self._sequence(node.args[0])
            if sep is None or items is None:
                return None
            joined = self._join(sep.value, items, depth, force=True)
            return Folded(joined.value, True, sep.lines + joined.lines) if joined else None
        if func.attr == "format":
            base = self.fold(func.value, depth)
            args = [self.fold(a, depth) for a in node.args]
            kwargs = {k.arg: self.fold(k.value, depth) for k in node.keywords if k.arg}
            if base is None or any(a is None for a in [*args, *kwargs.values()]):
                return None
            if len(kwargs) != len(node.keywords):
                return None
            try:
                value = base.value.format(
                    *(a.value for a in args if a), **{k: v.value for k, v in kwargs.items() if v}
                )
            except (IndexError, KeyError, ValueError):
                return None
            lines = base.lines + tuple(n for f in [*args, *kwargs.values()] if f for n in f.lines)
            return Folded(value, True, lines)
        if func.attr in {"decode", "strip", "upper", "lower"} and not node.args[1:]:
            inner = self.fold(func.value, depth)
            if inner is None:
                return None
            value = {
                "decode": inner.value,
                "strip": inner.value.strip(),
                "upper": inner.value.upper(),
                "lower": inner.value.lower(),
            }[func.attr]
            return Folded(value, inner.assembled or func.attr == "decode", inner.lines)
        return self._decoded(node, depth)

    def _decoded(self, node: ast.Call, depth: int) -> Folded | None:
        """``base64.b64decode("...")`` and ``bytes.fromhex("...")``: a literal in disguise."""
        func = node.func
        if not isinstance(func, ast.Attribute) or len(node.args) != 1:
            return None
        if func.attr not in {"b64decode", "urlsafe_b64decode", "fromhex", "unhexlify"}:
            return None
        inner = self.fold(node.args[0], depth)
        if inner is None:
            return None
        try:
            if func.attr == "fromhex" or func.attr == "unhexlify":
                raw = bytes.fromhex(inner.value)
            elif func.attr == "urlsafe_b64decode":
                raw = base64.urlsafe_b64decode(inner.value)
            else:
                raw = base64.b64decode(inner.value, validate=True)
            value = raw.decode("utf-8")
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None
        return Folded(value, True, inner.lines)

    def _sequence(self, node: ast.expr) -> list[ast.expr] | None:
        if isinstance(node, (ast.List, ast.Tuple)):
            return list(node.elts)
        if isinstance(node, ast.Name):
            bound = self._binding(node.id)
            if isinstance(bound, (ast.List, ast.Tuple)):
                return list(bound.elts)
        return None
