"""The docs site's generated pages are current (``.ci/docs`` also builds the site strictly)."""

import importlib.util

from paths import REPO


def _generator():
    spec = importlib.util.spec_from_file_location("gen_cli_docs", REPO / "tools/gen_cli_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_cli_reference_is_what_the_apps_say():
    gen = _generator()
    page = gen.PAGE
    assert page.exists(), f"{page.relative_to(REPO)} is missing: run `{gen.COMMAND}`"
    assert page.read_text(encoding="utf-8") == gen.render(), (
        f"{page.relative_to(REPO)} is not current: run `{gen.COMMAND}` and commit it"
    )


def test_the_cli_reference_names_every_command():
    text = _generator().render()
    for command in (
        "lume-score evaluate",
        "lume-score run",
        "lume-score batch",
        "lume mini build",
        "lume check-submission",
        "lume baseline",
    ):
        assert f"`{command}`" in text
