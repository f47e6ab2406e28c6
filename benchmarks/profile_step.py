"""Where a train step's time goes: a ``jax.profiler`` trace of the jitted step, summed per XLA
operation and per kind of operation.

  python benchmarks/profile_step.py --config=configs/hourglass.py --config.train.batch_size=4
  python benchmarks/profile_step.py --steps=3 --top=25 --trace_dir=/tmp/step_trace   # default config

Traces ``--steps`` steps (default 10: pass a few) of benchmarks/train_step.py's ``CompiledStep`` (after one untimed step),
reads the trace back with ``jax.profiler.ProfileData`` and adds up, over XLA's worker threads,
the time of every executed HLO instruction (``hlo_op`` events), so the totals are thread-seconds,
not wall seconds. Each instruction is classified from the compiled HLO: a convolution or dot
(XLA's own, or a YNNPACK ``__ynn_fusion``), an elementwise / reduction fusion, a copy or transpose,
and so on. The trace stays in ``--trace_dir`` for TensorBoard's profile plugin.
"""
import collections
import glob
import os
import re
import sys
import tempfile

import train_step  # noqa: E402  (configures the runtime first; defines --config and --steps)

import jax  # noqa: E402
from absl import app, flags  # noqa: E402

from jaxpose import grouping  # noqa: E402

flags.DEFINE_integer("top", 20, "Instructions listed.")
flags.DEFINE_string("trace_dir", "", "Where the trace goes (default: a temporary folder).")
FLAGS = flags.FLAGS

_INSTR = re.compile(r"^\s*(?:ROOT\s+)?%?([\w.\-]+)\s*=\s*\S+\s+([\w\-]+)\(")


def instruction_kinds(hlo_text: str) -> dict:
  """Entry-level HLO instruction name -> a readable kind (what the profile's ``hlo_op`` names)."""
  kinds = {}
  for line in hlo_text.splitlines():
    m = _INSTR.match(line)
    if not m:
      continue
    name, opcode = m.groups()
    if opcode == "fusion":
      if "__ynn_fusion" in line:
        body = "ynn"
      else:
        kind = re.search(r"kind=(k\w+)", line)
        body = kind.group(1) if kind else "fusion"
      calls = re.search(r"calls=%?([\w.\-]+)", line)
      kinds[name] = (f"fusion:{body}", calls.group(1) if calls else "")
    else:
      kinds[name] = (opcode, "")
  # what a fused computation computes: its heaviest op (convolution > dot > reduce > other)
  bodies = collections.defaultdict(set)
  current = None
  for line in hlo_text.splitlines():
    head = re.match(r"^%?([\w.\-]+)\s.*\{\s*$", line)
    if head and "=" not in line.split("{")[0]:
      current = head.group(1)
      continue
    m = _INSTR.match(line)
    if m and current:
      bodies[current].add(m.group(2))
  out = {}
  for name, (kind, calls) in kinds.items():
    ops = bodies.get(calls, set())
    core = next((op for op in ("convolution", "dot", "reduce-window", "reduce", "scatter",
                               "transpose", "pad", "concatenate", "slice") if op in ops), "")
    out[name] = f"{kind}({core})" if core else kind
  return out


def profile(step, steps: int, trace_dir: str):
  """Traces ``steps`` calls of ``step`` (a ``train_step.CompiledStep``) into ``trace_dir`` and
  returns (seconds per step of every executed HLO instruction, summed over threads; the
  instructions' kinds; the steps' wall times)."""
  kinds = instruction_kinds(step.compiled.as_text())
  with jax.profiler.trace(trace_dir):
    times = step.run(steps)
  path = sorted(glob.glob(os.path.join(trace_dir, "**", "*.xplane.pb"), recursive=True))[-1]
  per_op = collections.Counter()
  for plane in jax.profiler.ProfileData.from_file(path).planes:
    for line in plane.lines:
      for event in line.events:
        stats = dict(event.stats)
        if "hlo_op" in stats:
          per_op[stats["hlo_op"]] += event.duration_ns * 1e-9 / steps
  return per_op, kinds, times


def main(_):
  config, _ = grouping.resolve_config(FLAGS.config)
  step = train_step.CompiledStep(config)
  step.run(1)
  trace_dir = FLAGS.trace_dir or tempfile.mkdtemp(prefix="jaxpose_trace_")
  per_op, kinds, times = profile(step, FLAGS.steps, trace_dir)
  total = sum(per_op.values())
  wall = sum(times) / len(times)
  print(f"config={config.get('name')} model={config.model.name} batch={step.batch_size} "
        f"input={step.size}² params={step.params:,}: {wall:.3f} s/step wall, {total:.3f} "
        f"thread-s/step in XLA operations ({FLAGS.steps} traced steps; trace in {trace_dir})")
  per_kind = collections.Counter()
  for op, t in per_op.items():
    per_kind[kinds.get(op, "?")] += t
  print(f"\n{'kind of operation':<36} {'thread-s/step':>13} {'share':>6}")
  for kind, t in per_kind.most_common():
    print(f"{kind:<36} {t:13.3f} {100 * t / total:5.1f}%")
  print(f"\n{'instruction':<44} {'kind':<30} {'ms/step':>8} {'share':>6}")
  for op, t in per_op.most_common(FLAGS.top):
    print(f"{op[:44]:<44} {kinds.get(op, '?')[:30]:<30} {t * 1e3:8.1f} {100 * t / total:5.1f}%")


if __name__ == "__main__":
  app.run(main)
