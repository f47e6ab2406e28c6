"""``python -m jaxpose.visualize``."""
from jaxpose import runtime
from jaxpose.visualize.cli import main

runtime.run_cli(main)
