"""eval/exec on data (labelled corpus)."""


def calc(expression):
    return eval(expression)  # expect: DBSBM-EXEC-001


def run_snippet(interaction, code):
    exec(code, {"interaction": interaction})  # expect: DBSBM-EXEC-002


def parse_odds(text):
    return eval("(" + text + ")")  # expect: DBSBM-EXEC-001


def load_cog(path):
    with open(path) as fh:
        source = fh.read()
    exec(compile(source, path, "exec"))  # expect: DBSBM-EXEC-002
