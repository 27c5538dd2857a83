"""One folder per layer, imports only downward (tests/layering_rules.py): the real tree keeps every
rule, and each rule is shown to catch its violation in a small planted tree."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests import layering_rules as rules

ROOT = Path(__file__).resolve().parents[1]

# A tree that breaks each rule once (and keeps the rest of it plausible).
PLANTED = {
    "testlog/__init__.py": "",
    "testlog/errors.py": "",
    "testlog/core/__init__.py": "",
    "testlog/core/fine.py": "import json\nfrom testlog.errors import TestlogError\n",
    "testlog/core/leaky.py": "import gitstore\nimport subprocess\nimport os\nKEY = os.environ.get('K')\n",
    "testlog/core/disk.py": "def read(p):\n    with open(p) as f:\n        return f.read()\n",
    "testlog/core/a.py": "from testlog.core import b\n",
    "testlog/core/b.py": "def later():\n    from testlog.core import a\n    return a\n",
    "testlog/core/upward.py": "from testlog.store import private\n",
    "testlog/store/__init__.py": "",
    "testlog/store/private.py": "from gitstore.store import LogStore\n",
    "testlog/store/opener.py": "from gitstore import LogStore\nSTORE = LogStore.open('.')\n",
    "testlog/gates/__init__.py": "",
    "testlog/gates/opener.py": "from gitstore import LogStore\n\ndef f():\n    return LogStore.open('.')\n",
    "testlog/gates/unknown.py": "from gitstore import no_such_name\n",
    "testlog/gates/tests.py": "import pytest\n",
    "testlog/plugin/__init__.py": "import pytest\n",
    "testlog/plugin/again.py": ("import os\nSUITE = 'Testlog-Suite'\nSTAMP = '%Y-%m-%dT%H:%M:%SZ'\n"
                                "KEY = os.path.join('.git', 'testlog', 'env-key')\n"),
    "gitstore/__init__.py": ("from typing import TYPE_CHECKING\n_EXPORTS = {'LogStore': 'store'}\n"
                             "if TYPE_CHECKING:\n    from gitstore.store import LogStore, Extra\n"),
    "gitstore/errors.py": "from gitstore.store import LogStore\n",
    "gitstore/store.py": "import numpy\nSTATE = '.git/testlog'\n",
    "gitstore/newcomer.py": "",
}
# rule -> the files whose violations it must report in the planted tree
CAUGHT = {
    rules.core_is_pure: {"testlog/core/leaky.py", "testlog/core/disk.py", "testlog/core/upward.py"},
    rules.pytest_only_in_plugin: {"testlog/gates/tests.py"},
    rules.store_opened_only_by_store: {"testlog/gates/opener.py"},
    rules.testlog_uses_the_facade: {"testlog/store/private.py", "testlog/gates/unknown.py"},
    rules.facade_types_match: {"gitstore/__init__.py"},
    rules.gitstore_is_independent: {"gitstore/store.py"},
    rules.gitstore_names_no_product: {"gitstore/store.py"},
    rules.gitstore_layers_go_down: {"gitstore/errors.py", "gitstore/newcomer.py"},
    rules.testlog_layers_go_down: {"testlog/core/upward.py"},
    rules.one_home_each: {"testlog/plugin/again.py"},
    rules.state_folder_has_one_owner: {"testlog/plugin/again.py"},
}


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, rules.Module]:
    root = tmp_path_factory.mktemp("planted")
    for name, text in PLANTED.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return rules.load_modules(root)


def files_named(violations: list[str]) -> set[str]:
    return {v.split(":", 1)[0] for v in violations}


@pytest.mark.parametrize("rule", rules.RULES, ids=lambda r: r.__name__)
def test_the_tree_keeps_the_rule(rule):
    assert rule(rules.load_modules(ROOT)) == []


@pytest.mark.parametrize("rule", list(CAUGHT), ids=lambda r: r.__name__)
def test_the_rule_catches_what_was_planted(rule, planted):
    assert files_named(rule(planted)) == CAUGHT[rule]


def test_a_circle_is_caught_even_through_an_import_inside_a_function(planted):
    assert rules.no_import_circles(planted) == ["import circle: testlog.core.a -> testlog.core.b"]


def test_what_the_planted_violations_say(planted):
    assert "testlog/core/leaky.py:4: testlog/core reads os.environ" in rules.core_is_pure(planted)
    assert any("imports subprocess" in v for v in rules.core_is_pure(planted))
    assert rules.testlog_uses_the_facade(planted) == [
        "testlog/gates/unknown.py:1: gitstore does not export no_such_name (widen the façade)",
        "testlog/store/private.py:1: testlog.store.private imports gitstore.store (use the "
        "gitstore façade)"]
    assert rules.facade_types_match(planted) == [
        "gitstore/__init__.py:1: Extra from gitstore.store is in _EXPORTS xor the TYPE_CHECKING "
        "imports"]


def test_every_module_has_a_layer():
    modules = rules.load_modules(ROOT)
    assert all(rules.testlog_layer(n) for n in modules if n.startswith("testlog"))
    assert {n for n in modules if n.startswith("gitstore")} == set(rules.GITSTORE_LAYERS)
