"""Which options of a recorded pytest command line a re-execution repeats: those that change
how tests are collected or run (plugins, ini overrides, import mode, doctests), and for a
replay those that make pytest-rerunfailures re-run a test the way it did. Paths, selection
(-k, -m), xdist and testlog's own options are the re-execution's business. Pure.
"""
from __future__ import annotations

# Options that change collection or what runs, with a value, and flags.
_WITH_VALUE = ("-p", "-o", "--override-ini", "-W", "--pythonwarnings", "-c", "--config-file",
               "--confcutdir", "--import-mode", "--doctest-glob")
_FLAGS = ("--doctest-modules", "--noconftest")
# pytest-rerunfailures: how many attempts and which failures are re-run (the delay is not
# repeated: it changes nothing but the time a replay takes).
_RERUN_WITH_VALUE = ("--reruns", "--only-rerun", "--rerun-except", "--rerun-exclude-path")
# The capture mode decides what a test's captured output holds (fd catches C-level writes).
_CAPTURE = ("--capture",)


def _pick(args: tuple[str, ...] | list[str], with_value: tuple[str, ...],
          flags: tuple[str, ...] = (), short: tuple[str, ...] = ()) -> list[str]:
    out: list[str] = []
    items = list(args)
    i = 0
    while i < len(items):
        arg = items[i]
        name = arg.split("=", 1)[0]
        if arg in flags:
            out.append(arg)
        elif name in with_value and "=" in arg and name.startswith("--"):
            out.append(arg)
        elif arg in with_value and i + 1 < len(items):
            out += [arg, items[i + 1]]
            i += 1
        elif len(arg) > 2 and arg[:2] in short and arg[1] != "-":
            out.append(arg)                       # -pno:randomly, -Werror
        i += 1
    return out


def collection_options(args: tuple[str, ...] | list[str]) -> list[str]:
    """The recorded options that change how tests are collected or run."""
    return _pick(args, _WITH_VALUE, _FLAGS, ("-p", "-o", "-W"))


def rerun_options(args: tuple[str, ...] | list[str]) -> list[str]:
    """pytest-rerunfailures' options of the recorded command line."""
    return _pick(args, _RERUN_WITH_VALUE)


def capture_option(mode: str | None) -> list[str]:
    """`--capture=MODE` unless it is pytest's default (fd) or unknown."""
    return [f"--capture={mode}"] if mode in ("sys", "no", "tee-sys") else []
