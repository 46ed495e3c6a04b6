"""Literal eval/exec and the safe replacement."""

import ast


def constant():
    return eval("1 + 2")


def setup():
    exec("import json")


def parse(text):
    return ast.literal_eval(text)


class Engine:
    def eval(self, expression):
        return expression

    def run(self, expression):
        return self.eval(expression)
