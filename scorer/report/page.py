"""The report's HTML shell: escaping, the style, the one inline script and the page itself.

Every string that comes from a result (names, generations: entrants' text) goes through
:func:`text`, and the page's Content-Security-Policy lets nothing load from anywhere
(``default-src 'none'``): images are ``data:`` URIs, and the only script that may run is
the one below, allowed by its hash, so even a string that slipped through unescaped could
neither run code nor fetch anything.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

from scorer.leaderboard.page import page_opening

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em 2em; color: #222; max-width: 1400px; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2em; margin-top: 1.8em; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; }
th, td { padding: 0.25em 0.6em; border-bottom: 1px solid #e4e4e4; vertical-align: top; }
th { background: #f4f4f4; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
small, .muted { color: #666; }
p.na { color: #8a5a00; background: #fff6e0; padding: 0.4em 0.7em; border-radius: 4px; }
img.figure { max-width: 100%; height: auto; display: block; margin: 0.5em 0; }
#items-table td.text { white-space: pre-wrap; word-break: break-word; max-width: 28em; }
#items-table td.text div { max-height: 12em; overflow: auto; }
#items-table td.id { font-family: monospace; font-size: 0.8em; word-break: break-all; }
.controls { display: flex; gap: 1em; align-items: center; flex-wrap: wrap; margin: 0.5em 0; }
ul.warnings { color: #8a2a00; }
"""

# Records how many figures loaded (``data-figures-loaded="N/M"`` on <body>, for a headless
# browser's check), and filters the items table by split, task, kind and text; a URL hash
# (``#split=forget&q=abbey``) presets the filters, and changing them rewrites it.
SCRIPT = """
(function () {
  function figures() {
    var images = document.images, loaded = 0;
    for (var i = 0; i < images.length; i++) {
      if (images[i].complete && images[i].naturalWidth > 0) { loaded++; }
    }
    document.body.setAttribute("data-figures-loaded", loaded + "/" + images.length);
  }
  window.addEventListener("load", figures);
  var table = document.getElementById("items-table");
  if (!table) { return; }
  var rows = table.tBodies[0].rows, names = ["split", "task", "kind", "q"], controls = {};
  names.forEach(function (n) { controls[n] = document.getElementById("filter-" + n); });
  var params = new URLSearchParams(window.location.hash.slice(1));
  names.forEach(function (n) { if (params.has(n)) { controls[n].value = params.get(n); } });
  function apply() {
    var q = controls.q.value.toLowerCase(), shown = 0, state = new URLSearchParams();
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i], keep = true;
      ["split", "task", "kind"].forEach(function (n) {
        var wanted = controls[n].value;
        if (wanted && r.getAttribute("data-" + n) !== wanted) { keep = false; }
      });
      if (keep && q && r.textContent.toLowerCase().indexOf(q) < 0) { keep = false; }
      r.hidden = !keep;
      if (keep) { shown++; }
    }
    names.forEach(function (n) { if (controls[n].value) { state.set(n, controls[n].value); } });
    document.getElementById("filter-count").textContent = shown + " of " + rows.length + " items";
    table.setAttribute("data-shown", String(shown));
    var hash = state.toString() ? "#" + state.toString() : "";
    try { history.replaceState(null, "", location.pathname + location.search + hash); } catch (e) {}
  }
  names.forEach(function (n) { controls[n].addEventListener("input", apply); });
  apply();
})();
"""


def script_hash(script: str = SCRIPT) -> str:
    """The CSP source that allows exactly this inline script."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    f"script-src {script_hash()}; base-uri 'none'; form-action 'none'"
)


def text(value: object) -> str:
    """Any value as HTML text or attribute content: escaped (quotes too), control
    characters and lone surrogates (from undecodable bytes) written as escapes."""
    value = CONTROL.sub(lambda m: ascii(m.group())[1:-1], str(value))
    value = value.encode("utf-8", "backslashreplace").decode("utf-8")
    return html.escape(value, quote=True)


def number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def image(data: bytes, alt: str) -> str:
    """A PNG embedded as a data URI: the page needs no network and no other file."""
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img class="figure" src="data:image/png;base64,{encoded}" alt="{text(alt)}">'


def not_available(why: str) -> str:
    return f'<p class="na">Not available: {text(why)}</p>'


def table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[bool]) -> str:
    """A table of already-escaped cells; ``numeric`` right-aligns a column."""
    cls = ['<td class="num">' if n else "<td>" for n in numeric]
    lines = ["<table>", "<thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead>"]
    lines.append("<tbody>")
    lines += ["<tr>" + "".join(f"{c}{v}</td>" for c, v in zip(cls, row)) + "</tr>" for row in rows]
    return "\n".join([*lines, "</tbody>", "</table>"])


@dataclass(frozen=True)
class Section:
    """One part of the report: its anchor, title, HTML body, and whether it had data
    (``note`` says why not, or what it shows, for the terminal summary)."""

    key: str
    title: str
    body: str
    available: bool
    note: str = ""


def document(title: str, header: str, sections: Sequence[Section]) -> str:
    """The whole page: head (policy, style), title, navigation, sections, the script."""
    nav = " ".join(f'<a href="#{s.key}">{text(s.title)}</a>' for s in sections)
    parts = [
        *page_opening(text(title), POLICY, STYLE),
        f"<h1>{text(title)}</h1>",
        header,
        f"<nav>{nav}</nav>",
    ]
    for s in sections:
        parts += [f'<section id="{s.key}">', f"<h2>{text(s.title)}</h2>", s.body, "</section>"]
    parts += [f"<script>{SCRIPT}</script>", "</body>", "</html>", ""]
    return "\n".join(parts)
