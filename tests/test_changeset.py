"""gitstore.changeset against real repositories, and affected-module detection on a generated
150-module monorepo (exact: every touched module, nothing else)."""
from __future__ import annotations

import random
from pathlib import Path

from gitstore import changeset

from testlog.core.modules import affected_modules, module_roots
from testlog.core.prepush import parse_push_lines
from testlog.gates.pushrange import pushed_files
from tests.fixtures import git, make_repo, user_state


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def test_changed_staged_and_worktree_files(tmp_path: Path):
    repo = make_repo(tmp_path / "r", {"a/x.py": "1\n", "b/y.py": "2\n", "c d/z.py": "3\n"})
    base = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "mv", "a/x.py", "b/x.py")
    (repo / "c d" / "z.py").write_text("4\n")
    head = commit_all(repo, "move and edit")
    assert changeset.changed_files(repo, base, head) == ["a/x.py", "b/x.py", "c d/z.py"]
    (repo / "b" / "y.py").write_text("staged\n")
    git(repo, "add", "b/y.py")
    (repo / "a").mkdir(exist_ok=True)
    (repo / "a" / "new.py").write_text("untracked\n")
    (repo / "c d" / "z.py").write_text("unstaged\n")
    before = user_state(repo)
    assert changeset.staged_files(repo) == ["b/y.py"]
    assert changeset.worktree_changes(repo) == ["a/new.py", "b/y.py", "c d/z.py"]
    assert "a/new.py" in changeset.listed_files(repo)
    assert user_state(repo) == before


def test_staged_files_before_the_first_commit(tmp_path: Path):
    repo = make_repo(tmp_path / "r", {"m/module.manifest.json": "{}"}, commit=False)
    git(repo, "add", "-A")
    assert changeset.head_commit(repo) is None
    assert changeset.staged_files(repo) == ["m/module.manifest.json"]


def test_tree_shas_of_nested_root_and_absent_folders(tmp_path: Path):
    repo = make_repo(tmp_path / "r", {"s/a.py": "1", "s/b/c.py": "2", "t.py": "3"})
    found = changeset.tree_shas(repo, "HEAD", ["", "s", "s/b", "missing", "t.py"])
    assert found == {"": git(repo, "rev-parse", "HEAD^{tree}").strip(),
                     "s": git(repo, "rev-parse", "HEAD:s").strip(),
                     "s/b": git(repo, "rev-parse", "HEAD:s/b").strip()}


def test_remote_default_branch_from_clone_from_the_remote_and_unknown(tmp_path: Path):
    origin = make_repo(tmp_path / "origin", {"a": "1"})
    main = git(origin, "rev-parse", "HEAD").strip()
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    assert changeset.remote_default_branch(clone, "origin") == main      # origin/HEAD
    plain = make_repo(tmp_path / "plain", {"b": "2"})
    git(plain, "remote", "add", "up", str(origin))
    assert changeset.remote_default_branch(plain, "up") is None           # nothing fetched
    git(plain, "fetch", "-q", "up")
    assert changeset.remote_default_branch(plain, "up") == main           # asks the remote
    assert changeset.remote_default_branch(plain, str(origin)) == main    # a path, not a name
    assert changeset.merge_base(plain, main, "HEAD") is None              # unrelated histories


def test_new_commits_base_is_the_parent_of_the_first_unpushed_commit(tmp_path: Path):
    origin = make_repo(tmp_path / "origin", {"a": "1"})
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    pushed = git(clone, "rev-parse", "HEAD").strip()
    (clone / "b").write_text("2")
    commit_all(clone, "one")
    (clone / "c").write_text("3")
    head = commit_all(clone, "two")
    assert changeset.new_commits_base(clone, head, "origin") == pushed
    assert changeset.new_commits_base(clone, pushed, "origin") == pushed  # nothing new
    lonely = make_repo(tmp_path / "lonely")
    assert changeset.new_commits_base(lonely, "HEAD", "nowhere") is None  # a root commit


def generate_monorepo(root: Path, count: int = 150) -> dict[str, list[str]]:
    """`count` modules: top-level ones, some with nested modules, files spread in each.
    Returns {module folder: the files it owns (deepest module)}."""
    owned: dict[str, list[str]] = {}
    files: dict[str, str] = {"README.md": "monorepo\n", "tools/lint.py": "pass\n"}
    index = 0
    while index < count:
        top = f"pkg{index:03d}"
        folders = [top] + [f"{top}/sub{j}" for j in range(2) if index + 1 + j < count][:2]
        for folder in folders:
            name = folder.replace("/", ".")
            owned[folder] = [f"{folder}/module.manifest.json", f"{folder}/core.py",
                             f"{folder}/util/helpers.py"]
            for path in owned[folder]:
                files[path] = json_manifest(name) if path.endswith(".json") else f"# {path}\n"
            index += 1
    make_repo(root, files)
    return owned


def json_manifest(name: str) -> str:
    return f'{{"module": "{name}", "tags": ["lane:L{len(name) % 6}"]}}\n'


def test_affected_detection_is_exact_on_a_150_module_repo(tmp_path: Path):
    repo = tmp_path / "mono"
    owned = generate_monorepo(repo)
    assert len(owned) == 150
    roots = module_roots(changeset.listed_files(repo))
    assert roots == sorted(owned)
    git(tmp_path, "init", "-q", "--bare", "remote.git")
    git(repo, "remote", "add", "origin", str(tmp_path / "remote.git"))
    git(repo, "push", "-q", "origin", "main")
    chooser = random.Random(20251101)
    base = git(repo, "rev-parse", "HEAD").strip()
    expected: set[str] = set()
    for round_number in range(3):
        for module in chooser.sample(sorted(owned), 7):
            path = chooser.choice(owned[module])
            (repo / path).write_text((repo / path).read_text() + f"# round {round_number}\n")
            expected.add(module)
        (repo / "tools" / "lint.py").write_text(f"# outside every module {round_number}\n")
        commit_all(repo, f"round {round_number}")
    head = git(repo, "rev-parse", "HEAD").strip()
    changed = changeset.changed_files(repo, base, head)
    assert affected_modules(changed, roots) == sorted(expected)
    # the same through git's pre-push input, pushing a new branch and an update
    stdin = (f"refs/heads/main {head} refs/heads/main {base}\n"
             f"refs/heads/topic {head} refs/heads/topic {'0' * 40}\n")
    files, _ranges, notes = pushed_files(str(repo), "origin", parse_push_lines(stdin), "testlog",
                                         head)
    assert affected_modules(files, roots) == sorted(expected)
    assert notes == [f"refs/heads/{b} -> refs/heads/{b}: {len(changed)} file(s) changed since "
                     f"{base[:10]}" for b in ("main", "topic")]
