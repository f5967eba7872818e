"""``workbench`` entry point.

``workbench`` alone, or with file/project paths, opens the desktop app; a subcommand runs
headless. Without a display (no ``DISPLAY``/``WAYLAND_DISPLAY`` on Linux) the app is not started:
one line says so and what to run instead (``workbench demo``, ``--platform offscreen``), exit 2.
A word that is neither a command nor an existing file is reported as an unknown command, with
the closest command names. Bad arguments are one line (``workbench export: error: ...``), exit 2.
Each subcommand lives in ``workbench/cli/cmd_<name>.py`` and exposes
``register(subparsers)``, which adds its parser and sets ``func``. Keep ``--help`` fast: command
modules import heavy libraries (torch, umap, hdbscan, onnxruntime) inside ``run`` only.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import sys
from pathlib import Path

from workbench import __version__
from workbench.core.errors import Cancelled, WorkbenchError

# Order = order in --help. cmd_curate adds several commands (its COMMANDS: reject, restore, ...).
COMMANDS = ["inspect", "new", "add", "embed", "models", "analyze", "check", "export", "eval_set", "drift", "demo", "curate", "cluster", "sources"]


class _Parser(argparse.ArgumentParser):
    """argparse with errors on one line (no usage block), as every front end error is."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="workbench",
        description=(
            "Curation Workbench: see, fix and export LLM fine-tuning datasets. "
            "Run without a command (optionally with data files or a .wbproj project) to open the app."
        ),
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"workbench.cli.cmd_{name}").register(sub)
    return parser


def _wants_gui(argv: list[str]) -> bool:
    if not argv:
        return True
    first = argv[0]
    from workbench.cli.cmd_curate import COMMANDS as CURATE_COMMANDS
    from workbench.cli.cmd_sources import COMMANDS as SOURCE_COMMANDS

    if first.replace("-", "_") in COMMANDS or first in CURATE_COMMANDS + SOURCE_COMMANDS or first in ("-h", "--help", "--version"):
        return False
    # `workbench FILE...`, `workbench PROJECT`, or GUI-only flags such as --smoke-test
    return True


def _unknown_command(word: str) -> str | None:
    """The message for ``workbench WORD`` when WORD is no command and no existing file, else None."""
    if word.startswith("-") or Path(word).exists():
        return None
    names = _command_names()
    close = difflib.get_close_matches(word, names, n=3, cutoff=0.6)
    if close:
        hint = " or ".join(f"'{c}'" for c in close)
        return f"workbench: error: unknown command '{word}' (did you mean {hint}?); see 'workbench --help'"
    if "/" in word or "\\" in word or Path(word).suffix:
        return f"workbench: error: no such file: {word}"
    return (f"workbench: error: unknown command '{word}' (commands: {', '.join(names)}); "
            "see 'workbench --help'")


def _command_names() -> list[str]:
    """Every subcommand the parser knows (asked only when a word is not one of them)."""
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    return list(COMMANDS)


def _gui_argv(argv: list[str]) -> list[str]:
    """``--platform NAME`` (Qt's platform plugin, e.g. offscreen) becomes QT_QPA_PLATFORM."""
    out, i = [], 0
    while i < len(argv):
        a = argv[i]
        if a in ("--platform", "-platform") and i + 1 < len(argv):
            os.environ["QT_QPA_PLATFORM"] = argv[i + 1]
            i += 2
            continue
        if a.startswith("--platform="):
            os.environ["QT_QPA_PLATFORM"] = a.split("=", 1)[1]
        else:
            out.append(a)
        i += 1
    return out


def no_display_message(argv: list[str]) -> str | None:
    """Why the app cannot open here (no display), with what to run instead; None when it can."""
    if os.environ.get("QT_QPA_PLATFORM") or "--smoke-test" in argv:
        return None
    if sys.platform in ("darwin", "win32") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return ("workbench: no display (DISPLAY and WAYLAND_DISPLAY are not set), so the app cannot open; run "
            "'workbench demo' for a headless run, 'workbench --help' for the commands, or add "
            "'--platform offscreen' to run the app without a screen")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if _wants_gui(argv):
        unknown = _unknown_command(argv[0]) if argv else None
        if unknown:
            print(unknown, file=sys.stderr)
            return 2
        argv = _gui_argv(argv)
        problem = no_display_message(argv)
        if problem:
            print(problem, file=sys.stderr)
            return 2
        from workbench.ui.app import main as gui_main  # Qt is imported only here

        return gui_main(argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a bad argument (already printed, one line)
        return exc.code if isinstance(exc.code, int) else 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except WorkbenchError as exc:
        print(f"workbench: error: {exc.user_message}", file=sys.stderr)
        if exc.detail:
            print(exc.detail, file=sys.stderr)
        return exc.exit_code
    except Cancelled:
        print("workbench: cancelled", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("workbench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `workbench inspect FILE | head`: the reader left; stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
