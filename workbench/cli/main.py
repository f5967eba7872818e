"""``workbench`` entry point.

``workbench`` alone, or with file/project paths, opens the desktop app; a subcommand runs
headless. Each subcommand lives in ``workbench/cli/cmd_<name>.py`` and exposes
``register(subparsers)``, which adds its parser and sets ``func``. Keep ``--help`` fast: command
modules import heavy libraries (torch, umap, hdbscan, onnxruntime) inside ``run`` only.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from workbench import __version__
from workbench.core.errors import Cancelled, WorkbenchError

# Order = order in --help.
COMMANDS = ["inspect", "new", "add", "embed", "models", "analyze", "export", "demo"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    if first in COMMANDS or first in ("-h", "--help", "--version"):
        return False
    # `workbench FILE...`, `workbench PROJECT`, or GUI-only flags such as --smoke-test
    return True


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if _wants_gui(argv):
        from workbench.ui.app import main as gui_main  # Qt is imported only here

        return gui_main(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
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


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
