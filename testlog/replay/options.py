"""Which options of the recorded pytest command line a replay repeats.

Only options that change how the recorded tests are collected or run, and that neither load
code nor reach a path outside the checkout: the recorded command line comes from the log
branch, which anyone who can push to it may have written. Options that would load code
(`-p NAME`, `-o pythonpath=…`, `-o addopts=…`, a warning category in another module) or
reach elsewhere (`-c /path`, `--confcutdir=..`) are refused by name; selection (`-k`, `-m`,
node ids), xdist and testlog's own options are the replay's business and are left out. Pure.
"""
from __future__ import annotations

from dataclasses import dataclass

FLAGS = ("--doctest-modules", "--noconftest", "--strict-markers", "--strict-config", "--strict")
WITH_VALUE = ("-p", "-o", "--override-ini", "-W", "--pythonwarnings", "-c", "--config-file",
              "--confcutdir", "--import-mode", "--doctest-glob")
IMPORT_MODES = ("prepend", "append", "importlib")
# ini keys whose values are names, patterns, levels or switches: they load no code, name no path.
SAFE_INI = frozenset({
    "python_files", "python_classes", "python_functions", "xfail_strict", "markers",
    "empty_parameter_set_mark", "doctest_optionflags", "doctest_encoding", "norecursedirs",
    "usefixtures", "console_output_style", "filterwarnings", "log_level", "log_format",
    "log_date_format", "log_cli", "log_cli_level", "log_cli_format", "log_cli_date_format",
    "junit_family", "junit_suite_name", "strict_markers", "strict", "faulthandler_timeout",
    "truncation_limit_lines", "truncation_limit_chars", "verbosity_assertions",
    "verbosity_test_cases", "minversion", "consider_namespace_packages", "asyncio_mode",
    "asyncio_default_fixture_loop_scope", "timeout", "tmp_path_retention_count",
    "tmp_path_retention_policy", "testlog"})


@dataclass(frozen=True)
class RecordedOptions:
    kept: tuple[str, ...]        # repeated by the replay, in recorded order
    refused: tuple[str, ...]     # would load code or reach elsewhere: named in the refusal
    paths: tuple[str, ...]       # relative paths the kept options name (checked after checkout)
    refused_args: tuple[str, ...] = ()     # the refused ones as arguments (for --trust-run)


def _option_value(items: list[str], i: int) -> tuple[str, str | None, int]:
    """(name, value, items consumed) of the option at `i` (`--a=b`, `--a b`, `-ab`, `-a b`)."""
    arg = items[i]
    if arg.startswith("--") and "=" in arg:
        name, value = arg.split("=", 1)
        return name, value, 1
    if arg in WITH_VALUE:
        return arg, items[i + 1] if i + 1 < len(items) else None, 2
    if len(arg) > 2 and arg[:2] in WITH_VALUE and arg[1] != "-":
        return arg[:2], arg[2:], 1              # -pno:randomly, -Werror, -oa=b
    return arg, None, 1


def relative_inside(path: str) -> bool:
    """A relative path that does not climb out (`..`) of where it is taken from."""
    parts = path.replace("\\", "/").split("/")
    return bool(path) and not path.startswith(("/", "~")) and ".." not in parts


def _warning_safe(spec: str) -> bool:
    """A -W / filterwarnings filter whose category is a builtin (another imports a module)."""
    fields = spec.split(":")
    return len(fields) < 3 or "." not in fields[2]


def value_problem(name: str, value: str) -> bool:
    """True when the option `name` with `value` loads code or reaches outside the checkout."""
    if name == "-p":
        return not value.startswith("no:")
    if name in ("-o", "--override-ini"):
        key, _, ini = value.partition("=")
        key = key.strip()
        return key not in SAFE_INI or (key == "filterwarnings" and not _warning_safe(ini))
    if name in ("-W", "--pythonwarnings"):
        return not _warning_safe(value)
    if name in ("-c", "--config-file", "--confcutdir"):
        return not relative_inside(value)
    if name == "--import-mode":
        return value not in IMPORT_MODES
    return False


def recorded_options(args: tuple[str, ...] | list[str]) -> RecordedOptions:
    kept: list[str] = []
    refused: list[str] = []
    refused_args: list[str] = []
    paths: list[str] = []
    items = [str(a) for a in args]
    i = 0
    while i < len(items):
        name, value, used = _option_value(items, i)
        taken = items[i:i + used]
        if name in FLAGS:
            kept += taken
        elif name in WITH_VALUE and value is not None:
            if value_problem(name, value):
                refused.append(" ".join(taken))
                refused_args += taken
            else:
                kept += taken
                if name in ("-c", "--config-file", "--confcutdir"):
                    paths.append(value)
        i += used if name in WITH_VALUE else 1
    return RecordedOptions(tuple(kept), tuple(refused), tuple(paths), tuple(refused_args))


def replayable_options(args: tuple[str, ...] | list[str]) -> list[str]:
    """The recorded options a replay repeats (see the module's docstring)."""
    return list(recorded_options(args).kept)
