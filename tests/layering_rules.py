"""The layering rules, read from the source with `ast` (nothing is imported): each rule takes
the modules of a source tree and returns its violations, one line each.

- testlog/core is pure: it imports only testlog/core, testlog/errors and the standard library
  (not subprocess), reads no environment variable and touches no file.
- Only testlog/plugin imports pytest at module level.
- Only testlog/store and testlog/commands open a LogStore.
- testlog reaches gitstore only through the package façade (`from gitstore import name`, a
  name the façade exports), never `gitstore.<module>`.
- gitstore imports nothing of testlog, pytest, numpy or torch, and names no product
  (no "testlog", no ".ndjson" in its strings): the product passes its conventions in.
- Imports only go down the layers, in gitstore and between testlog's folders.
- No import circle anywhere, imports inside functions included.
"""
from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

# gitstore from the bottom up: a module imports only modules of a lower layer.
GITSTORE_LAYERS = {
    "gitstore.errors": 0, "gitstore.conventions": 0, "gitstore.sigstatus": 0,
    "gitstore.timedrun": 0, "gitstore.signer": 0, "gitstore.gitenv": 0,
    "gitstore.gitcmd": 1, "gitstore.paths": 1, "gitstore.signing": 1, "gitstore.sshsigning": 1,
    "gitstore.objectfiles": 1, "gitstore.reading": 1, "gitstore.quicksig": 1, "gitstore.safetrees": 0,
    "gitstore.verify": 2,
    "gitstore.location": 2, "gitstore.changes": 2, "gitstore.commits": 2, "gitstore.history": 2,
    "gitstore.locking": 2, "gitstore.bundle": 2, "gitstore.changeset": 2,
    "gitstore.materialize": 2, "gitstore.source": 2, "gitstore.treecheck": 2,
    "gitstore.batch": 3, "gitstore.packing": 3, "gitstore.stream": 3,
    "gitstore.backgroundpack": 4,
    "gitstore.store": 5,
    "gitstore.epoch": 6, "gitstore.sync": 6,
    "gitstore": 7,
}
# testlog's folders (and top-level modules) from the bottom up: across folders, imports only go
# to a lower layer; inside one folder, modules use each other freely.
TESTLOG_LAYERS = {
    "testlog": 0, "testlog.errors": 0, "testlog.cores": 0, "testlog.globalopts": 0,
    "testlog.core": 1, "testlog.rng": 1, "testlog.parallel": 1,
    "testlog.config": 2,
    "testlog.store": 3,
    "testlog.gates": 4,
    "testlog.replay": 5, "testlog.audit": 5,
    "testlog.plugin": 6, "testlog.site": 6,
    "testlog.commands": 7,
    "testlog.cli": 8,
    "testlog.start": 9,
    "testlog.__main__": 10,
}
PURE_ALLOWED = ("testlog.core", "testlog.errors")
NOT_PURE_STDLIB = {"subprocess"}
ENVIRONMENT_READS = {"environ", "environb", "getenv", "getenvb"}
# What touches the disk: the builtin open, and these functions of os and os.path.
DISK_CALLS = {"open", "walk", "listdir", "scandir", "stat", "lstat", "remove", "unlink", "rename",
              "replace", "makedirs", "mkdir", "rmdir", "exists", "isfile", "isdir", "islink",
              "getsize", "getmtime", "realpath", "readlink"}
NOT_IN_GITSTORE = {"testlog", "pytest", "_pytest", "numpy", "torch"}
PRODUCT_WORDS = ("testlog", ".ndjson")
OPENS_ALLOWED = ("testlog.store", "testlog.commands")


@dataclass(frozen=True)
class Import:
    target: str            # the module imported (a submodule when `from pkg import submodule`)
    names: tuple[str, ...]  # for `from X import a, b`: a, b
    line: int
    lazy: bool             # inside a function
    typing_only: bool      # under `if TYPE_CHECKING:`


@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module
    imports: list[Import] = field(default_factory=list)

    def where(self, line: int) -> str:
        return f"{self.path.as_posix()}:{line}"


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def load_modules(root: Path) -> dict[str, Module]:
    """Every module of testlog/ and gitstore/ under `root`, with its imports resolved."""
    modules = {}
    for package in ("testlog", "gitstore"):
        for path in sorted((root / package).rglob("*.py")):
            name = module_name(root, path)
            modules[name] = Module(name, path.relative_to(root), ast.parse(path.read_text()))
    for module in modules.values():
        module.imports = list(_imports(module, set(modules)))
    return modules


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(node: ast.AST, lazy: bool = False, typing: bool = False) -> Iterator[tuple[ast.AST, bool, bool]]:
    for child in ast.iter_child_nodes(node):
        yield child, lazy, typing
        inner_lazy = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        inner_typing = typing or (isinstance(child, ast.If) and _is_type_checking(child))
        yield from _walk(child, inner_lazy, inner_typing)


def _package_of(module: Module) -> str:
    return module.name if module.path.name == "__init__.py" else module.name.rpartition(".")[0]


def _imports(module: Module, known: set[str]) -> Iterator[Import]:
    for node, lazy, typing in _walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name, (), node.lineno, lazy, typing)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = _package_of(module).split(".")
                package = package[:len(package) - node.level + 1]
                base = ".".join(package + ([base] if base else []))
            plain = [a.name for a in node.names if f"{base}.{a.name}" not in known]
            for alias in node.names:
                if f"{base}.{alias.name}" in known:
                    yield Import(f"{base}.{alias.name}", (), node.lineno, lazy, typing)
            if plain:
                yield Import(base, tuple(plain), node.lineno, lazy, typing)


def _in(name: str, prefixes: tuple[str, ...] | str) -> bool:
    prefixes = (prefixes,) if isinstance(prefixes, str) else prefixes
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _top(name: str) -> str:
    return name.split(".")[0]


# -- the rules ----------------------------------------------------------------------------------

def core_is_pure(modules: dict[str, Module]) -> list[str]:
    out = []
    for module in modules.values():
        if not _in(module.name, "testlog.core"):
            continue
        for imp in module.imports:
            stdlib = _top(imp.target) in sys.stdlib_module_names
            if _in(imp.target, PURE_ALLOWED) or (stdlib and _top(imp.target) not in NOT_PURE_STDLIB):
                continue
            out.append(f"{module.where(imp.line)}: testlog/core imports {imp.target}")
        for node, _lazy, _typing in _walk(module.tree):
            if isinstance(node, ast.Attribute) and node.attr in ENVIRONMENT_READS \
                    and isinstance(node.value, ast.Name) and node.value.id == "os":
                out.append(f"{module.where(node.lineno)}: testlog/core reads os.{node.attr}")
            if isinstance(node, ast.Call) and _touches_disk(node.func):
                out.append(f"{module.where(node.lineno)}: testlog/core touches the disk")
        for imp in module.imports:
            if imp.target == "os" and set(imp.names) & ENVIRONMENT_READS:
                out.append(f"{module.where(imp.line)}: testlog/core reads the environment")
    return out


def _touches_disk(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id == "open"
    if not isinstance(func, ast.Attribute) or func.attr not in DISK_CALLS:
        return False
    owner = func.value
    return (isinstance(owner, ast.Name) and owner.id == "os") or \
        (isinstance(owner, ast.Attribute) and owner.attr == "path"
         and isinstance(owner.value, ast.Name) and owner.value.id == "os")


def pytest_only_in_plugin(modules: dict[str, Module]) -> list[str]:
    return [f"{m.where(i.line)}: {m.name} imports pytest at module level (only testlog/plugin may)"
            for m in modules.values() if _in(m.name, "testlog") and not _in(m.name, "testlog.plugin")
            for i in m.imports if _top(i.target) in ("pytest", "_pytest") and not i.lazy]


def _opens_store(call: ast.Call) -> bool:
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr == "open":
        owner = func.value
        return (isinstance(owner, ast.Name) and owner.id == "LogStore") or \
            (isinstance(owner, ast.Attribute) and owner.attr == "LogStore")
    return (isinstance(func, ast.Name) and func.id == "LogStore") or \
        (isinstance(func, ast.Attribute) and func.attr == "LogStore")


def store_opened_only_by_store(modules: dict[str, Module]) -> list[str]:
    return [f"{m.where(node.lineno)}: {m.name} opens a LogStore (only testlog/store and "
            "testlog/commands may)"
            for m in modules.values() if _in(m.name, "testlog") and not _in(m.name, OPENS_ALLOWED)
            for node, _lazy, _typing in _walk(m.tree)
            if isinstance(node, ast.Call) and _opens_store(node)]


def facade_exports(modules: dict[str, Module]) -> dict[str, str]:
    """The façade's `_EXPORTS` ({name: module}), read from gitstore/__init__.py."""
    facade = modules.get("gitstore")
    for node in ast.walk(facade.tree) if facade else ():
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "_EXPORTS"
                                                for t in node.targets):
            return ast.literal_eval(node.value)
    return {}


def testlog_uses_the_facade(modules: dict[str, Module]) -> list[str]:
    exported = set(facade_exports(modules)) | {"GitStoreError", "GitStoreInputError"}
    out = []
    for module in modules.values():
        if not _in(module.name, "testlog"):
            continue
        for imp in module.imports:
            if imp.target.startswith("gitstore."):
                out.append(f"{module.where(imp.line)}: {module.name} imports {imp.target} "
                           "(use the gitstore façade)")
            elif imp.target == "gitstore":
                out += [f"{module.where(imp.line)}: gitstore does not export {name} (widen the "
                        "façade)" for name in imp.names if name not in exported]
    return out


def facade_types_match(modules: dict[str, Module]) -> list[str]:
    """The façade's TYPE_CHECKING imports name exactly what `_EXPORTS` lazily loads."""
    facade = modules.get("gitstore")
    if facade is None:
        return []
    typed = {(i.target, n) for i in facade.imports if i.typing_only for n in i.names}
    typed |= {(i.target.rpartition(".")[0], i.target.rpartition(".")[2])
              for i in facade.imports if i.typing_only and not i.names}
    wanted = {(f"gitstore.{mod}", name) for name, mod in facade_exports(modules).items()}
    return [f"{facade.where(1)}: {name} from {mod} is in _EXPORTS xor the TYPE_CHECKING imports"
            for mod, name in sorted(typed ^ wanted)]


def gitstore_is_independent(modules: dict[str, Module]) -> list[str]:
    return [f"{m.where(i.line)}: gitstore imports {i.target}"
            for m in modules.values() if _in(m.name, "gitstore")
            for i in m.imports if _top(i.target) in NOT_IN_GITSTORE]


def gitstore_names_no_product(modules: dict[str, Module]) -> list[str]:
    out = []
    for module in modules.values():
        if not _in(module.name, "gitstore"):
            continue
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
                text = node.value.decode(errors="replace") if isinstance(node.value, bytes) \
                    else node.value
                found = [w for w in PRODUCT_WORDS if w in text.lower()]
                if found:
                    out.append(f"{module.where(node.lineno)}: gitstore names {found[0]!r} "
                               "(pass it in through Conventions)")
    return out


def gitstore_layers_go_down(modules: dict[str, Module]) -> list[str]:
    out = []
    for module in modules.values():
        if not _in(module.name, "gitstore"):
            continue
        layer = GITSTORE_LAYERS.get(module.name)
        if layer is None:
            out.append(f"{module.where(1)}: {module.name} has no layer in GITSTORE_LAYERS")
            continue
        for imp in module.imports:
            target = GITSTORE_LAYERS.get(imp.target)
            if _in(imp.target, "gitstore") and not imp.typing_only and \
                    (target is None or target >= layer):
                out.append(f"{module.where(imp.line)}: {module.name} (layer {layer}) imports "
                           f"{imp.target} (layer {target}): imports only go down")
    return out


def testlog_layer(name: str) -> tuple[str, int] | None:
    """(the folder or module that is `name`'s layer, its rank)."""
    for prefix in sorted(TESTLOG_LAYERS, key=len, reverse=True):
        if _in(name, prefix) and (prefix != "testlog" or name == "testlog"):
            return prefix, TESTLOG_LAYERS[prefix]
    return None


def testlog_layers_go_down(modules: dict[str, Module]) -> list[str]:
    out = []
    for module in modules.values():
        if not _in(module.name, "testlog"):
            continue
        own = testlog_layer(module.name)
        if own is None:
            out.append(f"{module.where(1)}: {module.name} has no layer in TESTLOG_LAYERS")
            continue
        for imp in module.imports:
            if not _in(imp.target, "testlog") or imp.typing_only:
                continue
            other = testlog_layer(imp.target)
            if other is not None and other[0] != own[0] and other[1] >= own[1]:
                out.append(f"{module.where(imp.line)}: {own[0]} (layer {own[1]}) imports "
                           f"{imp.target} ({other[0]}, layer {other[1]}): imports only go down")
    return out


def import_graph(modules: dict[str, Module]) -> dict[str, set[str]]:
    """Every import that runs (inside functions too), between the tree's own modules."""
    return {name: {i.target for i in m.imports if i.target in modules and not i.typing_only}
            for name, m in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module, and modules importing themselves."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph[node]:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def no_import_circles(modules: dict[str, Module]) -> list[str]:
    return [f"import circle: {' -> '.join(group)}" for group in cycles(import_graph(modules))]


def longest_chain(modules: dict[str, Module]) -> list[str]:
    """The longest import chain (the graph has no circle)."""
    graph, memo = import_graph(modules), {}

    def chain(node: str) -> list[str]:
        if node not in memo:
            memo[node] = [node] + max((chain(n) for n in graph[node]), key=len, default=[])
        return memo[node]
    return max((chain(n) for n in sorted(graph)), key=len, default=[])


# Texts with one home each: (what, test on a string constant, the one module that may hold it).
EVENT_NAMES = ("TEST_SUITE_EXECUTED", "COVERAGE_RECORDED", "BENCH_RECORDED", "REPLAY_VERIFIED",
               "REPLAY_FAILED", "AUDIT_SEALED", "RETENTION_EPOCH", "ROTATION")
SINGLE_HOMES = (
    ("a trailer name", lambda s: s.startswith("Testlog-"), "testlog.core.layout"),
    ("an event name", lambda s: s in EVENT_NAMES, "testlog.core.chronicle"),
    ("a UTC time format", lambda s: "%H:%M:%S" in s, "testlog.core.timefmt"),
    ("git's location variables", lambda s: s == "GIT_DIR", "gitstore.gitenv"),
    ("git's ancestry test", lambda s: s == "--is-ancestor", "gitstore.gitcmd"),
    ("the empty tree", lambda s: s == "hash-object", "gitstore.gitcmd"),
    ("the state folder's name", lambda s: s == "testlog/", "testlog.store.state"),
)


def one_home_each(modules: dict[str, Module]) -> list[str]:
    """A rule written twice drifts apart: each of these texts lives in one module only."""
    out = []
    for module in modules.values():
        for node in ast.walk(module.tree):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            for what, matches, home in SINGLE_HOMES:
                if matches(node.value) and module.name != home:
                    out.append(f"{module.where(node.lineno)}: {what} outside {home}")
    return out


def _joins_state_folder(node: ast.Call) -> bool:
    """os.path.join(..., "testlog", ...): the state folder built by hand."""
    func = node.func
    return isinstance(func, ast.Attribute) and func.attr == "join" and any(
        isinstance(a, ast.Constant) and a.value == "testlog" for a in node.args)


def state_folder_has_one_owner(modules: dict[str, Module]) -> list[str]:
    return [f"{m.where(node.lineno)}: builds <git dir>/testlog by hand (use store.state)"
            for m in modules.values() if m.name != "testlog.store.state"
            for node in ast.walk(m.tree) if isinstance(node, ast.Call) and _joins_state_folder(node)]


RULES = (core_is_pure, pytest_only_in_plugin, store_opened_only_by_store,
         testlog_uses_the_facade, facade_types_match, gitstore_is_independent,
         gitstore_names_no_product, gitstore_layers_go_down, testlog_layers_go_down,
         no_import_circles, one_home_each, state_folder_has_one_owner)
