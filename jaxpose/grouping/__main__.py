"""``python -m jaxpose.grouping``: see ``jaxpose/grouping/cli.py``."""
import sys

from jaxpose.grouping.cli import main

sys.exit(main())
