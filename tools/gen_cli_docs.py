"""Write docs/cli.md, the CLI reference, from the two Typer apps' own help.

``python -m tools.gen_cli_docs`` rewrites the page; ``--check`` exits 1 when the page is
not what the apps say now (tests/test_docs.py does the same). Nothing is run: Typer's
command objects (its own click) give every command's help, usage and parameters without
calling the command, and neither app imports torch for its help.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import typer
import typer.main

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "cli.md"
COMMAND = "python -m tools.gen_cli_docs"

HEADER = f"""# CLI reference

Every command's `--help`, generated from the Typer apps (`scorer.cli.app` for
`lume-score`, `starter_kit.cli.app` for `lume`) by `{COMMAND}`; do not edit by hand:
`tests/test_docs.py` fails when this page is not current.
"""


def _apps() -> list[tuple[str, typer.Typer]]:
    from scorer.cli.app import app as score_app
    from starter_kit.cli.app import app as kit_app

    return [("lume-score", score_app), ("lume", kit_app)]


def _escape(text: str) -> str:
    """Help text as Markdown shows it: no HTML, no emphasis by accident."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("*", r"\*")


def _plain(text: str) -> str:
    """Text without ANSI styles (rich or click markup never reaches the page)."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _code(text: str) -> str:
    return f"``{text}``" if "`" in text else f"`{text}`"


def _command(ctx: typer.Context, depth: int) -> str:
    cmd = ctx.command
    out = [f"{'#' * depth} `{ctx.command_path}`", ""]
    if cmd.help:
        out += [_escape(_plain(cmd.help)).strip(), ""]
    pieces = " ".join(cmd.collect_usage_pieces(ctx))
    out += ["```", f"{ctx.command_path} {pieces}".rstrip(), "```", ""]
    arguments, options = [], []
    for param in cmd.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        names, text = record
        line = f"- {_code(names)}" + (f": {_escape(_plain(text))}" if text else "")
        line = re.sub(r"\n(?=.)", "\n    ", line)  # a help of several paragraphs stays in its item
        (arguments if param.param_type_name == "argument" else options).append(line)
    if arguments:
        out += ["Arguments:", "", *arguments, ""]
    if options:
        out += ["Options:", "", *options, ""]
    if hasattr(cmd, "list_commands"):
        names = cmd.list_commands(ctx)
        out += ["Commands:", ""]
        for name in names:
            sub = cmd.get_command(ctx, name)
            short = _escape(_plain(sub.get_short_help_str(limit=200)))
            out.append(f"- [`{name}`](#{_anchor(f'{ctx.command_path} {name}')}): {short}")
        out.append("")
        for name in names:
            sub = cmd.get_command(ctx, name)
            with typer.Context(sub, info_name=name, parent=ctx) as sub_ctx:
                out.append(_command(sub_ctx, depth + 1))
    return "\n".join(out)


def _anchor(title: str) -> str:
    """The id Python-Markdown's toc extension gives the heading `` `title` ``."""
    return "-".join("".join(c if c.isalnum() or c in " -_" else "" for c in title).split())


def render() -> str:
    parts = [HEADER]
    for name, app in _apps():
        group = typer.main.get_command(app)
        with typer.Context(group, info_name=name) as ctx:
            parts.append(_command(ctx, 2))
    return "\n".join(parts).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/cli.md is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not PAGE.exists() or PAGE.read_text(encoding="utf-8") != text:
            print(f"{PAGE.relative_to(REPO)} is not current: run `{COMMAND}`", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
