"""Raises with terminal escape sequences and rich markup in its message (clear the screen,
retitle the window, fake a green "ok"): the organizer's console must show them inert."""


def unlearn(model, output, forget, retain):
    raise RuntimeError("\x1b[2J\x1b]0;owned\x07[bold green]status: ok[/] \x1b[31mred")
