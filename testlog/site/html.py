"""The site's page shell, its stylesheet and its one small script.

Everything shown comes from a log branch anyone may push to: every text goes through `esc`,
every file name is a digest or a commit sha, and data handed to the script is JSON with `<`,
`>` and `&` escaped. The pages load nothing from the network and need no server: the
stylesheet, the script and runs.js are files beside them (file:// allows <link> and
<script src> to sibling files).
"""
from __future__ import annotations

import hashlib
import html
import json
from typing import Any

SITE_MARKER = ".testlog-site"
NAV = (("index.html", "Overview"), ("tests.html", "Tests"), ("flaky.html", "Flaky"),
       ("runs/1.html", "Runs"), ("replays.html", "Replays"), ("coverage.html", "Coverage"),
       ("bench.html", "Benchmarks"))
STATUS_CODE = {"PASS": "P", "FAIL": "F", "ERROR": "E", "SKIP": "S", "XFAIL": "x", "XPASS": "X",
               "INTERRUPTED": "E"}


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def digest_id(text: str, length: int = 16) -> str:
    """A file name for a test or a suite: their names are anyone's to choose."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:length]


def test_href(name: str) -> str:
    return f"t/{digest_id(name)}.html"


def suite_href(suite: str) -> str:
    return f"s/{digest_id(suite, 12)}.html"


def run_href(sha: str) -> str:
    return f"r/{sha[:12]}.html"


def script_json(value: Any) -> str:
    """JSON safe inside a script: no `</script>`, no HTML-significant characters."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page(title: str, body: str, depth: int, active: str, heading: str | None = None) -> str:
    """A whole page; `depth`: how many folders below the site's root it lives."""
    root = "../" * depth
    nav = "".join(f'<a href="{root}{href}"{" class=on" if href == active else ""}>{esc(label)}</a>'
                  for href, label in NAV)
    return ("<!DOCTYPE html>\n"
            f'<html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>{esc(title)}</title>'
            f'<link rel="stylesheet" href="{root}assets/site.css">'
            f'<script src="{root}runs.js" defer></script>'
            f'<script src="{root}assets/site.js" defer></script></head>'
            f'<body data-root="{root}"><header><nav>{nav}</nav></header><main>'
            f"<h1>{esc(heading if heading is not None else title)}</h1>{body}</main>"
            '<div id="tip" role="tooltip" hidden></div>'
            "<footer>Built by <code>git testlog site</code> from the log branch and every "
            "writer's chain. Each point links to its run; "
            "<code>git testlog replay &lt;sha&gt;</code> re-executes it.</footer>"
            "</body></html>\n")


def table(head: list[str], rows: list[list[str]], cls: str = "") -> str:
    """Rows of already escaped HTML cells."""
    thead = "".join(f"<th>{esc(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{thead}</tr></thead><tbody>{body}</tbody></table>'


def status_badge(status: str) -> str:
    code = STATUS_CODE.get(status, "S")
    return f'<span class="badge {code}">{esc(status)}</span>'


def code(text: str) -> str:
    return f"<code>{esc(text)}</code>"


CSS = """\
:root { color-scheme: light dark; --bg: #ffffff; --fg: #1b1f24; --muted: #57606a;
  --line: #d0d7de; --card: #f6f8fa; --link: #0969da;
  --P: #1a7f37; --F: #cf222e; --E: #bc4c00; --S: #8c959f; --x: #8250df; --X: #0a7ea4;
  --s0: #0969da; --s1: #bf3989; --s2: #9a6700; --s3: #1a7f37; --s4: #8250df; --s5: #cf222e; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --line: #30363d; --card: #161b22;
    --link: #4493f8; --P: #3fb950; --F: #f85149; --E: #db6d28; --S: #6e7681; --x: #a371f7;
    --X: #39c5cf; --s0: #4493f8; --s1: #db61a2; --s2: #d29922; --s3: #3fb950; --s4: #a371f7;
    --s5: #f85149; } }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { border-bottom: 1px solid var(--line); background: var(--card); }
nav { max-width: 1100px; margin: 0 auto; padding: 10px 16px; display: flex; gap: 16px;
  flex-wrap: wrap; }
nav a { color: var(--fg); text-decoration: none; font-weight: 500; }
nav a.on { color: var(--link); border-bottom: 2px solid var(--link); }
main { max-width: 1100px; margin: 0 auto; padding: 8px 16px 32px; }
h1 { font-size: 1.5rem; margin: 16px 0 8px; word-break: break-all; }
h2 { font-size: 1.15rem; margin: 28px 0 8px; }
a { color: var(--link); }
code { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  background: var(--card); padding: 1px 4px; border-radius: 4px; word-break: break-all; }
.muted, footer { color: var(--muted); }
footer { max-width: 1100px; margin: 0 auto; padding: 16px; font-size: 13px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 12px 16px; margin: 12px 0; }
.note { border-left: 4px solid var(--link); }
table { border-collapse: collapse; width: 100%; margin: 8px 0; font-size: 14px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: right; }
td code { white-space: nowrap; word-break: normal; }
svg.chart { width: 100%; height: auto; display: block; }
svg.strip { width: 100%; height: 22px; display: block; }
.grid { stroke: var(--line); stroke-width: 1; }
.axis { fill: var(--muted); font-size: 11px; }
.trend { fill: none; stroke: var(--muted); stroke-width: 1.2; opacity: .7; }
.pts circle { stroke: var(--bg); stroke-width: .6; cursor: pointer; }
.pts circle:hover { stroke: var(--fg); stroke-width: 2; }
.P { fill: var(--P); } .F { fill: var(--F); } .E { fill: var(--E); } .S { fill: var(--S); }
.x { fill: var(--x); } .X { fill: var(--X); }
.s0 { fill: var(--s0); } .s1 { fill: var(--s1); } .s2 { fill: var(--s2); }
.s3 { fill: var(--s3); } .s4 { fill: var(--s4); } .s5 { fill: var(--s5); }
.t-s0 { stroke: var(--s0); } .t-s1 { stroke: var(--s1); } .t-s2 { stroke: var(--s2); }
.t-s3 { stroke: var(--s3); } .t-s4 { stroke: var(--s4); } .t-s5 { stroke: var(--s5); }
.cell { cursor: pointer; }
.badge { display: inline-block; padding: 0 6px; border-radius: 10px; color: #fff;
  font-size: 12px; font-weight: 600; }
.badge.P { background: var(--P); } .badge.F { background: var(--F); }
.badge.E { background: var(--E); } .badge.S { background: var(--S); }
.badge.x { background: var(--x); } .badge.X { background: var(--X); }
.legend { font-size: 13px; color: var(--muted); margin: 4px 0 0; }
.key { margin-right: 14px; white-space: nowrap; } .key svg { vertical-align: -1px; margin-right: 4px; }
.grid2 { display: grid; grid-template-columns: 1fr; gap: 12px; }  /* full width: readable */
.class { font-weight: 600; }
#tip { position: fixed; z-index: 10; max-width: 460px; padding: 8px 10px; border-radius: 6px;
  background: var(--fg); color: var(--bg); font-size: 13px; pointer-events: none;
  box-shadow: 0 4px 14px rgba(0,0,0,.25); }
#tip code { background: transparent; color: inherit; padding: 0; }
.pager a, .pager span { margin-right: 8px; }
"""

JS = """\
"use strict";
(function () {
  var runs = window.TESTLOG_RUNS || [];
  var root = document.body.getAttribute("data-root") || "";
  var tip = document.getElementById("tip");
  // Says the run table loaded beside the page (file:// included): the browser tests read it.
  document.body.setAttribute("data-runs", String(runs.length));
  function runOf(el) {
    var i = el.getAttribute("data-r");
    return i === null ? null : runs[Number(i)] || null;
  }
  function stripPoint(svg, event) {
    var chart = document.querySelector("svg.durations");
    if (!chart) { return null; }
    var box = svg.getBoundingClientRect();
    var x0 = Number(svg.getAttribute("data-x0")), x1 = Number(svg.getAttribute("data-x1"));
    var cells = Number(svg.getAttribute("data-cells"));
    var x = (event.clientX - box.left) * 860 / box.width;
    var i = cells > 1 ? Math.round((x - x0) / ((x1 - x0) / (cells - 1))) : 0;
    var pts = chart.querySelectorAll("circle[data-r]");
    return i >= 0 && i < pts.length ? pts[i] : null;
  }
  function target(event) {
    var el = event.target;
    if (el && el.closest) {
      var strip = el.closest("svg.strip");
      if (strip) { return stripPoint(strip, event); }
      return el.closest("[data-r]");
    }
    return null;
  }
  function show(el, event) {
    var run = runOf(el);
    if (!run) { tip.hidden = true; return; }
    var short = run[0].slice(0, 10);
    tip.textContent = "";
    var head = document.createElement("div");
    head.textContent = short + "  " + run[1] + "  " + run[2] + "  " + (el.getAttribute("data-v") || run[3]);
    var cmd = document.createElement("code");
    cmd.textContent = "git testlog replay " + short;
    tip.appendChild(head);
    tip.appendChild(cmd);
    tip.hidden = false;
    var x = Math.min(event.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
    tip.style.left = x + "px";
    tip.style.top = (event.clientY + 16) + "px";
  }
  document.addEventListener("mousemove", function (event) {
    var el = target(event);
    if (el) { show(el, event); } else { tip.hidden = true; }
  });
  document.addEventListener("click", function (event) {
    var el = target(event);
    var run = el ? runOf(el) : null;
    if (run) { window.location.href = root + "r/" + run[0].slice(0, 12) + ".html"; }
  });
}());
"""
