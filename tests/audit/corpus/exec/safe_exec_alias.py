"""Aliases of eval/exec run only on constants, and things merely named eval."""

import ast
import builtins
import operator

evaluate = eval
SETUP = "import json"
_run = exec


def constant():
    return evaluate("1 + 2")


def setup():
    _run(SETUP)
    _run("x = " + "1")


def builtin_constant():
    return builtins.eval("2 * 21")


def safe_parse(text):
    parse = ast.literal_eval
    return parse(text)


class Engine:
    def eval(self, expression):
        return expression


def dispatch(engine, expression):
    method = getattr(engine, "eval")
    return method(expression)


def operators(name, a, b):
    op = getattr(operator, name)
    return op(a, b)


_checked = getattr(builtins, "ev" + "al")


def checked():
    return _checked("6 * 7")
