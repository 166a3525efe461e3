"""Returns without writing anything: status invalid (no checkpoint)."""


def unlearn(model, output, forget, retain):
    print("nothing to see here")
