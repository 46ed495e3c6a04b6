"""One pass over a module that files every node under the function (or module) it runs in.

The rules that follow values (SQL, folding, aliases, logged dicts) look at one scope at a
time; walking each function's subtree again per rule made them the scan's main cost.
"""

from __future__ import annotations

import ast

Function = ast.FunctionDef | ast.AsyncFunctionDef


class Scopes:
    """``own(owner)``: the nodes of a function or the module, nested functions excluded
    (their ``def`` node is listed in the enclosing scope, their body in their own)."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.functions: list[Function] = []
        self.all: list[ast.AST] = [tree]  # every node, as ``ast.walk`` would give them
        self._own: dict[int, list[ast.AST]] = {id(tree): []}
        stack: list[tuple[ast.AST, ast.AST]] = [(c, tree) for c in ast.iter_child_nodes(tree)]
        while stack:
            node, owner = stack.pop()
            self.all.append(node)
            self._own[id(owner)].append(node)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions.append(node)
                self._own[id(node)] = []
                owner = node
            stack.extend((c, owner) for c in ast.iter_child_nodes(node))
        for nodes in self._own.values():
            nodes.reverse()  # roughly source order, for messages that name the first one

    def own(self, owner: ast.AST) -> list[ast.AST]:
        return self._own.get(id(owner), [])

    @property
    def owners(self) -> list[ast.AST]:
        return [self.tree, *self.functions]
