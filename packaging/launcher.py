"""Entry script for the frozen app: the same `workbench` command (GUI without a subcommand)."""

from workbench.cli.main import main

raise SystemExit(main())
