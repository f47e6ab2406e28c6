"""Process-level setup shared by train.py, evaluate.py and the benchmarks, and the command
line of the ``python -m`` tools (``parse_flags``: absl flags on a ``FlagValues`` of each tool's own;
``run_cli``).

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
    # sys.orig_argv: the command as started (``python train.py``, ``python -m jaxpose.train``,
    # a console script), which sys.argv alone cannot rebuild for ``-m``
    os.execv(sys.executable, [sys.executable] + sys.orig_argv[1:])


# /proc/cpuinfo flags of the CPU matrix units XLA reaches with bf16 operands and float32
# accumulation (jaxpose.models.layers, "Precision"): Intel AMX and AVX-512 BF16 (also AMD Zen 4+).
BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_flags(path: str = "/proc/cpuinfo") -> frozenset[str]:
  """The first CPU's feature flags from ``path`` (Linux); empty where there is no such file."""
  try:
    with open(path) as f:
      for line in f:
        if line.startswith("flags"):
          return frozenset(line.partition(":")[2].split())
  except OSError:
    pass
  return frozenset()


def bf16_matrix_units(flags: frozenset[str] | None = None) -> tuple[str, ...]:
  """The bf16 matrix-unit flags this CPU has (``BF16_FLAGS`` it reports), e.g. ``("amx_bf16",
  "avx512_bf16")``; empty: bf16 there runs on the fp32 units at no gain (``model.dtype=float32``
  is the right choice on such a CPU)."""
  flags = cpu_flags() if flags is None else flags
  return tuple(f for f in BF16_FLAGS if f in flags)


def precision_note(dtype: str, backend: str) -> str:
  """One line for the training log: the computation dtype and, on CPU, whether it has bf16
  matrix units and what ``model.dtype=bfloat16`` measured there."""
  if backend != "cpu":
    return f"model.dtype={dtype}"
  units = bf16_matrix_units()
  have = f"bf16 matrix units: {', '.join(units)}" if units else "no bf16 matrix units (AVX2 or older)"
  hint = ""
  if units and dtype == "float32":
    # measured on an AMX Xeon (README, "Benchmarks"): XLA's CPU backend reaches the units from
    # its dots, not its convolutions; the default recipe in bf16 trained 1.08× slower, the 2 × 256
    # hourglass step ran 1.1× faster
    hint = ("; XLA's CPU bf16 step measured slower than float32 even with them on the default "
            "config (1.1× faster on the 2 × 256 hourglass; README, Benchmarks), so float32 stays "
            "the default")
  elif units and dtype != "float32":
    hint = ("; on XLA's CPU backend the default config measured slower than float32, the 2 × 256 "
            "hourglass 1.1× faster (README, Benchmarks)")
  elif not units and dtype != "float32":
    hint = "; bf16 runs on the fp32 units here, float32 is as fast"
  return f"model.dtype={dtype}; CPU: {have}{hint}"


def run_absl(main, module: str, doc: str, argv: list[str] | None = None,
             flags_parser=None) -> None:
  """``app.run(main)`` for an absl tool whose flags live in ``module`` (jaxpose.train,
  jaxpose.evaluate), however it was started (``python train.py``, ``python -m``, a console
  script): ``--help`` shows ``doc`` and those flags, and the storage libraries' notes are
  below WARNING. ``flags_parser``: absl's hook for parsing ``argv`` (``configs.parse_flags``
  makes a bad flag one ``error:`` line)."""
  from absl import app, flags, logging as absl_logging
  sys.modules["__main__"].__doc__ = doc  # what absl's --help prints
  for flag in flags.FLAGS.get_key_flags_for_module(module):
    flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
  absl_logging.set_verbosity(absl_logging.WARNING)  # TFDS and orbax are chatty at INFO
  app.run(main, argv=argv, **({"flags_parser": flags_parser} if flags_parser else {}))


HELP_ARGS = ("-h", "-help", "--help", "--helpshort", "--helpfull")


def parse_flags(flag_values, argv, usage: str, doc: str = ""):
  """absl flags for a ``python -m jaxpose.X`` tool (predict, export, visualize, grouping):
  ``argv`` (the arguments after the program name; None: ``sys.argv[1:]``) parsed into
  ``flag_values``; returns ``(values, positional arguments)``, ``values`` a namespace of
  every flag (``values.workdir``).

  Each tool defines its flags on a ``flags.FlagValues()`` of its own, built per call by its
  ``flag_values()``, not on absl's global ``FLAGS`` as train.py / evaluate.py do (those only
  when their ``run()`` starts): absl's flags are global and the tools share names (``--workdir``, ``--flip``, ``--out``), so importing several
  in one process (a test, a notebook) must define nothing. ``--help`` prints ``usage``, ``doc``
  and the flags (exit status 0); a flag that cannot be parsed raises ``absl.app.UsageError``,
  which ``errors.exit_on_user_error`` prints as one line ``error: …`` (exit status 2), as
  train.py and evaluate.py answer a bad flag. Booleans are absl's ``--flip`` / ``--noflip``; the
  argparse spelling of earlier versions, ``--no-flip``, is still read."""
  import types
  from absl import app, flags
  argv = list(sys.argv[1:] if argv is None else argv)
  n = argv.index("--") if "--" in argv else len(argv)
  if any(a in HELP_ARGS for a in argv[:n]):
    print(f"usage: {usage}\n\n{doc.strip()}\n\nflags:\n{flags_help(flag_values)}")
    sys.exit(0)
  for i, a in enumerate(argv[:n]):
    name = a[len("--no-"):]
    if a.startswith("--no-") and name in flag_values and flag_values[name].boolean:
      argv[i] = "--no" + name
  try:
    rest = flag_values(["", *argv])[1:]
  except flags.Error as e:
    raise app.UsageError(str(e)) from None
  return types.SimpleNamespace(**flag_values.flag_values_dict()), rest


def flags_help(flag_values) -> str:
  """The flags of ``flag_values``, one entry each as absl's ``--help`` writes them. (absl's own
  ``FlagValues.get_help`` groups flags by the module that defined them: under ``python -m``
  it lists each flag twice, under the file's path and under ``__main__``.)"""
  import textwrap
  out = []
  for name in sorted(flag_values):
    flag = flag_values[name]
    head = f"--[no]{name}" if flag.boolean else f"--{name}"
    out.append(textwrap.fill(f"{head}: {flag.help}", 80, initial_indent="  ",
                             subsequent_indent="    "))
    for note in (f"(default: {flag.default_as_str})" if flag.default_as_str else "",
                 f"({flag.parser.syntactic_help})" if flag.parser.syntactic_help else ""):
      if note:
        out.append(textwrap.fill(note, 80, initial_indent="    ", subsequent_indent="    "))
  return "\n".join(out)


def define_floats(name: str, form: str, help: str, flag_values) -> None:  # noqa: A002
  """A flag of ``len(form.split(","))`` comma-separated numbers, e.g. ``form="x1,y1,x2,y2"``
  (default None); another value is refused naming the form."""
  from absl import flags

  class Floats(flags.ArgumentParser):
    syntactic_help = form

    def parse(self, argument):
      if not isinstance(argument, str):
        return argument
      try:
        values = [float(v) for v in argument.split(",")]
      except ValueError:
        values = []
      if len(values) != len(form.split(",")):
        raise ValueError(f"expected {form}, got {argument!r}")
      return values

    def flag_type(self):
      return form

  flags.DEFINE(Floats(), name, None, help, flag_values=flag_values,
               serializer=flags.ListSerializer(","))


def run_cli(main) -> None:
  """``sys.exit(main())`` for a ``python -m jaxpose.X`` tool: tensorflow's C++ logs and
  oneDNN notes off, and orbax's / tfds's absl notes on every restore below ERROR."""
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
  from absl import logging as absl_logging
  absl_logging.set_verbosity(absl_logging.ERROR)
  sys.exit(main())
