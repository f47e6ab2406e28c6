"""``python -m jaxpose.grouping``: see ``jaxpose/grouping/cli.py``."""
from jaxpose import runtime
from jaxpose.grouping.cli import main

runtime.run_cli(main)
