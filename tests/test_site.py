"""`git testlog site -o DIR` on real recorded runs, loaded from file:// in headless Chromium: the
rendered DOM names the flaky test, charts hold a point per run, points and rows link to runs,
nothing is logged to the console, and a screenshot is kept under the test's temp dir."""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest

import testlog.parallel as parallel
import testlog.site.build as build_module
from tests.browser import load, screenshot
from tests.fixtures import git, user_state
from tests.replay_support import cli, project, record, sandboxed, tip

SEEDED = "tests/test_f.py::test_seeded"
HOSTILE = "<img src=x onerror=alert(1)>"
TESTS = f'''\
import random

import pytest


def test_seeded():
    assert random.random() < 0.6        # fails under base seeds 2 and 6 (of 1..6)


@pytest.mark.parametrize("v", [{HOSTILE!r}])
def test_named_by_anyone(v):
    assert v
'''
SEEDS = (1, 2, 1, 2, 3)


@pytest.fixture(scope="module")
def recorded(sandbox, tmp_path_factory) -> tuple[Path, list[str]]:
    base = tmp_path_factory.mktemp("site")
    with sandboxed(sandbox, base / "tmp"):
        repo = project(base / "repo", {"tests/test_f.py": TESTS})
        shas = [record(repo, f"--testlog-seed={seed}", "tests") for seed in SEEDS]
    return repo, shas


def build(repo: Path, out: Path) -> str:
    code, stdout, err = cli("-C", str(repo), "site", "-o", str(out))
    assert (code, err) == (0, ""), err
    return stdout


def files_of(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_site_in_a_browser(recorded, tmp_path: Path):
    repo, shas = recorded
    before = user_state(repo), tip(repo)
    out = tmp_path / "site"
    stdout = build(repo, out)
    assert stdout.rstrip().endswith(str(out / "index.html"))
    assert (user_state(repo), tip(repo)) == before              # the site changes nothing

    index = load(out / "index.html", tmp_path)
    assert index.console == []                                  # no JS error, nothing logged
    assert f'data-runs="{len(shas)}"' in index.dom              # runs.js and site.js ran
    assert SEEDED in index.dom and "seed-dependent" in index.dom
    for sha in shas:                                            # every run links to its page
        assert f'href="r/{sha[:12]}.html"' in index.dom
    chart = re.search(r'<svg class="chart"[^>]*data-points="(\d+)"', index.dom)
    assert chart and int(chart.group(1)) == len(shas)           # a pass-rate point per run
    listed = load(out / "tests.html", tmp_path)
    assert listed.console == [] and "<img" not in listed.dom      # names are text, not HTML
    assert "test_named_by_anyone[&lt;img src=x onerror=alert(1)&gt;]" in listed.dom
    png = screenshot(out / "index.html", tmp_path / "index.png", tmp_path)
    assert png.stat().st_size > 10_000

    link = re.search(r'href="(t/[0-9a-f]{16}\.html)">' + re.escape(SEEDED) + "<", index.dom)
    assert link, "the flaky test links to its page"
    page = load(out / link.group(1), tmp_path)
    assert page.console == []
    durations = re.search(r'<svg class="chart durations"[^>]*data-points="(\d+)"', page.dom)
    assert durations and int(durations.group(1)) == len(shas)
    assert len(re.findall(r'<circle [^>]*data-r="\d+"', page.dom)) == len(shas)
    assert f'data-cells="{len(shas)}"' in page.dom              # the outcome strip
    for sha in shas:
        assert f"git testlog replay {sha[:10]} -k test_seeded" in page.dom
    screenshot(out / link.group(1), tmp_path / "test.png", tmp_path)

    run_page = load(out / "r" / f"{shas[1][:12]}.html", tmp_path)
    assert run_page.console == [] and f"git testlog replay {shas[1][:10]}" in run_page.dom
    assert SEEDED in run_page.dom                                # it failed in that run


def test_site_is_deterministic_and_replaces_only_its_own(recorded, tmp_path: Path):
    repo, _ = recorded
    out = tmp_path / "site"
    build(repo, out)
    first = files_of(out)
    build(repo, out)                                            # over a site built before
    assert files_of(out) == first
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".site.")]   # no leftovers

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    code, stdout, err = cli("-C", str(repo), "site", "-o", str(mine))
    assert code == 2 and stdout == "" and err.count("\n") == 1 and "other files" in err
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    code, _, err = cli("-C", str(repo), "site", "-o", str(mine / "notes.txt"))
    assert code == 2 and "is a file" in err
    code, _, err = cli("-C", str(repo), "site", "-o", str(tmp_path / "no" / "such"))
    assert code == 2 and "does not exist" in err


def test_pages_made_on_two_cores_are_the_pages_made_on_one(recorded, tmp_path: Path,
                                                            monkeypatch):
    repo, _ = recorded
    monkeypatch.setattr(build_module, "ITEMS_PER_TASK", 2)
    monkeypatch.setattr(parallel, "usable_cores", lambda: 1)
    build(repo, tmp_path / "one")
    monkeypatch.setattr(parallel, "usable_cores", lambda: 2)
    made = tmp_path / "made-by"
    made.mkdir()
    item_page = build_module.Site.item_page

    def noting_pid(self, kind, key):             # which process made a page
        (made / str(os.getpid())).touch()
        return item_page(self, kind, key)
    monkeypatch.setattr(build_module.Site, "item_page", noting_pid)
    build(repo, tmp_path / "two")
    assert files_of(tmp_path / "two") == files_of(tmp_path / "one")
    assert len(files_of(tmp_path / "one")) > 2 * 2
    assert str(os.getpid()) not in {p.name for p in made.iterdir()}     # forked workers did


def test_site_of_an_empty_log_says_so(tmp_path: Path, sandbox):
    repo = project(tmp_path / "repo", {"tests/test_f.py": TESTS})
    with sandboxed(sandbox, tmp_path / "tmp"):
        record(repo, "--testlog-seed=1", "tests")
    git(repo, "update-ref", "-d", "refs/heads/testlog")         # a log with nothing in it
    out = tmp_path / "site"
    code, stdout, err = cli("-C", str(repo), "site", "-o", str(out))
    assert (code, err) == (0, "") and stdout.startswith("no runs recorded yet")
    page = load(out / "index.html", tmp_path)
    assert page.console == [] and 'id="empty"' in page.dom and "No runs recorded" in page.dom


def test_site_of_one_run(tmp_path: Path, sandbox):
    repo = project(tmp_path / "repo", {"tests/test_f.py": TESTS})
    with sandboxed(sandbox, tmp_path / "tmp"):
        sha = record(repo, "--testlog-seed=1", "tests")
    out = tmp_path / "site"
    stdout = build(repo, out)
    assert stdout.startswith("only one run is recorded")
    page = load(out / "index.html", tmp_path)
    assert page.console == [] and 'id="note"' in page.dom and f"r/{sha[:12]}.html" in page.dom


def test_the_browser_catches_a_script_error(tmp_path: Path):
    """What the tests above rely on: an uncaught error in a page is seen."""
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><body><p id="x">x</p>'
                    "<script>undefinedFunction();</script></body></html>")
    loaded = load(page, tmp_path)
    assert any("Uncaught ReferenceError" in line for line in loaded.console), loaded.console
