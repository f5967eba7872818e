"""The headless front end: ``workbench <command>``. Never imports Qt."""
