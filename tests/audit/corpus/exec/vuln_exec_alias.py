"""eval/exec reached through another name, on data (labelled corpus)."""

import builtins
import builtins as bi
from builtins import exec as run_code

evaluate = eval
_run = exec


def calc(expression):
    return evaluate(expression)  # expect: DBSBM-EXEC-001


def run_snippet(code, scope):
    _run(code, scope)  # expect: DBSBM-EXEC-002


def odds(text):
    return builtins.eval("(" + text + ")")  # expect: DBSBM-EXEC-001


def plugin(source):
    run_code(source)  # expect: DBSBM-EXEC-002


def dynamic(expr):
    fn = getattr(builtins, "eval")
    return fn(expr)  # expect: DBSBM-EXEC-001


def direct(expr):
    return getattr(bi, "exec")(expr)  # expect: DBSBM-EXEC-002


def namespace(expr):
    return __builtins__["eval"](expr)  # expect: DBSBM-EXEC-001


class Calculator:
    def __init__(self):
        self.engine = eval

    def compute(self, interaction, formula):
        return self.engine(formula)  # expect: DBSBM-EXEC-001


_hidden = getattr(builtins, "ev" + "al")


def hidden(expr):
    return _hidden(expr)  # expect: DBSBM-EXEC-001
