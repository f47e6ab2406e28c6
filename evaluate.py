"""Evaluate a checkpoint or a predictions file: the checkout's entry point (installed, the same
is ``jaxpose-evaluate``).

  python evaluate.py --workdir=runs/default [--flip] [--which=best] [--split=test]

Flags: ``python evaluate.py --help``; the code: jaxpose/evaluate.py.
"""
from jaxpose.evaluate import run

if __name__ == "__main__":
  run()
