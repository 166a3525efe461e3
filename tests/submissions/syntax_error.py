"""Does not parse: status failed, the syntax error named in run.json."""


def unlearn(model, output, forget, retain)
    pass
