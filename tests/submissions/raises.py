"""Raises inside unlearn(): status failed, the exception named in run.json."""


def unlearn(model, output, forget, retain):
    raise ValueError("deliberate failure in unlearn")
