"""Process-level setup shared by train.py, evaluate.py and the benchmarks.

Call ``configure()`` before jax is imported. On XLA's CPU backend two environment
settings were measured to speed up the train step (docs/DESIGN.md, performance notes):
the concurrency-optimised scheduler off (5–8%) and glibc's hugetlb malloc tunable
(~20%: XLA allocates fresh buffers each step). The malloc tunable is read by glibc at
process start, so ``configure(reexec=True)`` re-executes the interpreter once with it.
``JAXPOSE_CPU_TUNING=0`` switches both off.
"""
from __future__ import annotations

import os
import sys

_SCHED = "--xla_cpu_enable_concurrency_optimized_scheduler=false"


def configure(reexec: bool = False) -> None:
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
  if os.environ.get("JAXPOSE_CPU_TUNING", "1") == "0":
    return
  flags = os.environ.get("XLA_FLAGS", "")
  if "concurrency_optimized_scheduler" not in flags:
    os.environ["XLA_FLAGS"] = (flags + " " + _SCHED).strip()
  if reexec and "glibc.malloc.hugetlb" not in os.environ.get("GLIBC_TUNABLES", "") \
      and sys.platform.startswith("linux") and "jax" not in sys.modules:
    tun = os.environ.get("GLIBC_TUNABLES", "")
    os.environ["GLIBC_TUNABLES"] = (tun + ":" if tun else "") + "glibc.malloc.hugetlb=1"
    os.execv(sys.executable, [sys.executable] + sys.argv)


def run_cli(main) -> None:
  """``sys.exit(main())`` for a ``python -m jaxpose.X`` tool: tensorflow's C++ logs and
  oneDNN notes off, and orbax's / tfds's absl notes on every restore below ERROR."""
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
  from absl import logging as absl_logging
  absl_logging.set_verbosity(absl_logging.ERROR)
  sys.exit(main())
