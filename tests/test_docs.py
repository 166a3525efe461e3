"""The docs site's generated pages are current (``.ci/docs`` also builds the site strictly)."""

import importlib.util

import pytest

from paths import REPO


def _generator():
    spec = importlib.util.spec_from_file_location("gen_docs", REPO / "tools/gen_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()


@pytest.mark.parametrize("page", sorted(GEN.pages()), ids=lambda p: p.name)
def test_each_generated_page_is_current(page):
    name = page.relative_to(REPO)
    assert page.exists(), f"{name} is missing: run `{GEN.COMMAND}` and commit it"
    assert page.read_text(encoding="utf-8") == GEN.pages()[page], (
        f"{name} is not current: run `{GEN.COMMAND}` and commit it"
    )


def test_the_cli_reference_names_every_command():
    text = GEN.render_cli()
    for command in (
        "lume-score evaluate",
        "lume-score run",
        "lume-score batch",
        "lume mini build",
        "lume check-submission",
        "lume baseline",
    ):
        assert f"`{command}`" in text


def test_the_readme_opens_with_the_text_the_bundle_shows():
    about = (REPO / "scorer/bundle/about.md").read_text(encoding="utf-8").strip()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert about in readme.split("\n## ")[0], (
        "README.md's opening and scorer/bundle/about.md (the bundle's overview) differ"
    )
