"""`git testlog site -o DIR`: every page of the site, then written to DIR in one swap.

The site is built in a new folder beside DIR and moved into place when complete: DIR holds
the previous site or the new one, never half of one. DIR must be new, empty, or a site this
command built (it holds the `.testlog-site` marker): nothing else of the user's is replaced.
"""
from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from testlog.core.logview import LogView
from testlog.errors import TestlogError, UsageError
from testlog.parallel import ordered_results
from testlog.site import pages
from testlog.site.html import CSS, JS, SITE_MARKER, run_href, suite_href, test_href
from testlog.site.model import SiteModel, build_model

ITEMS_PER_TASK = 25      # suite, test or run pages made by one task of the parallel part


@dataclass(frozen=True)
class Site:
    """Every file of the site: the pages that list (made at once) and a page per suite, test
    and run (made and written in chunks on every core: a large log's test pages are never all
    in memory, and each is made from the model alone)."""
    model: SiteModel

    def front(self) -> Iterator[tuple[str, bytes]]:
        model = self.model
        yield SITE_MARKER, b"built by git testlog site; `git testlog site -o` may replace this folder\n"
        yield "assets/site.css", CSS.encode()
        yield "assets/site.js", JS.encode()
        yield "runs.js", pages.runs_js(model)
        yield "index.html", pages.index_page(model).encode()
        yield "flaky.html", pages.flaky_page(model).encode()
        yield "replays.html", pages.replays_page(model).encode()
        yield "coverage.html", pages.coverage_page(model).encode()
        yield "bench.html", pages.bench_page(model).encode()
        for path, text in pages.tests_pages(model):
            yield path, text.encode()
        for path, text in pages.runs_pages(model):
            yield path, text.encode()

    def items(self) -> list[tuple[str, Any]]:
        return ([("suite", suite) for suite in self.model.suites()]
                + [("test", name) for name in self.model.tests]
                + [("run", i) for i in range(len(self.model.runs))])

    def item_page(self, kind: str, key: Any) -> tuple[str, bytes]:
        model = self.model
        if kind == "suite":
            return suite_href(key), pages.suite_page(model, key).encode()
        if kind == "test":
            return test_href(key), pages.test_page(model, key).encode()
        return run_href(model.runs[key].sha), pages.run_page(model, key).encode()


def site_of(view: LogView, ledgers: dict[str, list[dict[str, Any]]],
            repo_top: str | None) -> Site:
    return Site(build_model(view, ledgers, repo_top))


def check_destination(out: str) -> None:
    """DIR may be new, empty, or a site built here before; anything else is refused."""
    if not os.path.exists(out):
        parent = os.path.dirname(os.path.abspath(out))
        if not os.path.isdir(parent):
            raise UsageError(f"-o {out}: its folder {parent} does not exist")
        return
    if not os.path.isdir(out):
        raise UsageError(f"-o {out} is a file: give a folder for the site")
    if os.listdir(out) and not os.path.exists(os.path.join(out, SITE_MARKER)):
        raise UsageError(f"-o {out} is a folder with other files in it: give a new or empty "
                         "folder (or one `git testlog site` built before)")


def write_site(out: str, site: Site) -> int:
    """Write every file into a new folder beside `out`, then swap it in; the file count."""
    check_destination(out)
    target = os.path.abspath(out)
    stem = os.path.join(os.path.dirname(target), f".{os.path.basename(target)}.")
    building = stem + f"building-{secrets.token_hex(4)}"
    items = site.items()
    chunks = [items[k:k + ITEMS_PER_TASK] for k in range(0, len(items), ITEMS_PER_TASK)]

    def write_chunk(index: int) -> int:
        for kind, key in chunks[index]:
            write_file(building, *site.item_page(kind, key))
        return len(chunks[index])
    try:
        count = 0
        for path, data in site.front():
            write_file(building, path, data)
            count += 1
        with ordered_results(write_chunk, len(chunks)) as written:
            count += sum(written)
        swap_in(building, target, stem)
    except OSError as exc:
        raise TestlogError(f"cannot write the site to {out}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return count


def write_file(building: str, path: str, data: bytes) -> None:
    dest = os.path.join(building, *path.split("/"))
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with open(dest, "wb") as handle:
        handle.write(data)


def swap_in(building: str, target: str, stem: str) -> None:
    old = None
    if os.path.exists(target):
        old = stem + f"old-{secrets.token_hex(4)}"
        os.rename(target, old)
    try:
        os.rename(building, target)
    except OSError:
        if old is not None:
            os.rename(old, target)          # the previous site stays where it was
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
