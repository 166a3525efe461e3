"""Defines the wrong function name: status failed (no unlearn())."""


def unlearn_model(model, output, forget, retain):
    pass
