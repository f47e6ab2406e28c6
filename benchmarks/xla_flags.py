"""XLA CPU flags against the train step, alternated: one worker process per flag set, each
compiled once, then ``--reps`` rounds in which every worker times ``--steps`` steps in turn.

  python benchmarks/xla_flags.py                                   # configs/default.py
  python benchmarks/xla_flags.py --config=configs/hourglass.py --config.train.batch_size=4 --steps=2

Every worker runs benchmarks/train_step.py's ``CompiledStep`` with ``XLA_FLAGS`` = the named
set and ``JAXPOSE_CPU_TUNING=0`` (so jaxpose.runtime adds nothing; the hugetlb malloc tunable is
kept for all, as runtime.configure sets it). The figures are the median over rounds of each
worker's median step, and its ratio to the first set (``runtime``: what jaxpose.runtime sets).
Only processes alive at the same time are compared, so a machine's drift hits every set alike.
"""
import json
import os
import subprocess
import sys

import numpy as np
from absl import app, flags
from ml_collections import config_flags

_HERE = os.path.dirname(os.path.abspath(__file__))
config_flags.DEFINE_config_file(
    "config", os.path.join(os.path.dirname(_HERE), "configs", "default.py"),
    "Config file; it and its --config.X overrides are passed on to the workers.")
flags.DEFINE_integer("reps", 5, "Rounds; every flag set runs once per round, in turn.")
flags.DEFINE_integer("steps", 5, "Timed steps per worker per round (after 2 untimed at start).")
flags.DEFINE_list("sets", None, "Subset of the flag-set names (default: all).")
flags.DEFINE_string("before_rounds", "", "Shell command run after compiling, before the timed "
                    "rounds (e.g. 'kill -STOP PID' to pause a background job meanwhile).")
flags.DEFINE_string("after_rounds", "", "Shell command run after the timed rounds.")
FLAGS = flags.FLAGS

SETS = {
    "runtime": "--xla_cpu_enable_concurrency_optimized_scheduler=false",
    "xla default": "",
    "onednn": "--xla_cpu_enable_concurrency_optimized_scheduler=false --xla_cpu_use_onednn=true",
    "onednn dot fusion": "--xla_cpu_enable_concurrency_optimized_scheduler=false "
                         "--xla_cpu_use_onednn=true --xla_cpu_experimental_onednn_fusion_type=dot",
    "no ynnpack": "--xla_cpu_enable_concurrency_optimized_scheduler=false "
                  "--xla_cpu_experimental_ynn_fusion_type=",
    "xnnpack": "--xla_cpu_enable_concurrency_optimized_scheduler=false --xla_cpu_use_xnnpack=true",
    "fast math": "--xla_cpu_enable_concurrency_optimized_scheduler=false "
                 "--xla_cpu_enable_fast_math=true",
}

_WORKER = r"""
import sys, json, time
sys.argv = [sys.argv[0]] + json.loads(sys.argv[1])
sys.path.insert(0, %(here)r)
import train_step
from absl import flags
flags.FLAGS(sys.argv, known_only=True)
from jaxpose import grouping
config, _ = grouping.resolve_config(flags.FLAGS.config)
step = train_step.CompiledStep(config)
step.run(2)
print(json.dumps({"ready": True, "compile_s": step.compile_s}), flush=True)
for line in sys.stdin:
  n = int(line)
  print(json.dumps({"times": step.run(n)}), flush=True)
"""


def main(argv):
  names = FLAGS.sets or list(SETS)
  unknown = [n for n in names if n not in SETS]
  if unknown:
    raise app.UsageError(f"unknown flag sets {unknown}; known: {', '.join(SETS)}")
  passthrough = [a for a in sys.argv[1:] if a.startswith("--config")]
  workers, failed = {}, []
  for name in names:  # started one after the other: compiling concurrently would slow them all
    env = dict(os.environ, XLA_FLAGS=SETS[name], JAXPOSE_CPU_TUNING="0",
               TF_CPP_MIN_LOG_LEVEL="3", GLIBC_TUNABLES="glibc.malloc.hugetlb=1")
    p = subprocess.Popen([sys.executable, "-c", _WORKER % {"here": _HERE}, json.dumps(passthrough)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    ready = json.loads(p.stdout.readline() or "{}")
    if not ready.get("ready"):  # XLA rejects some combinations (it prints why on stderr)
      p.kill()
      failed.append(name)
      print(f"{name:<20} did not compile (exit {p.wait()})   XLA_FLAGS={SETS[name]!r}", flush=True)
      continue
    workers[name] = p
    print(f"{name:<20} compiled in {ready['compile_s']:.1f} s   XLA_FLAGS={SETS[name]!r}", flush=True)
  medians = {n: [] for n in names}
  if FLAGS.before_rounds:
    subprocess.run(FLAGS.before_rounds, shell=True, check=True)
  load = os.getloadavg()[0]
  try:
    for _ in range(FLAGS.reps):
      for name, p in workers.items():
        p.stdin.write(f"{FLAGS.steps}\n")
        p.stdin.flush()
        medians[name].append(float(np.median(json.loads(p.stdout.readline())["times"])))
  finally:
    if FLAGS.after_rounds:
      subprocess.run(FLAGS.after_rounds, shell=True, check=False)
  print(f"load average (1 min) before / after the rounds: {load:.2f} / {os.getloadavg()[0]:.2f} "
        f"on {os.cpu_count()} CPUs")
  for p in workers.values():
    p.stdin.close()
    p.wait()
  names = [n for n in names if n in workers]
  base = np.array(medians[names[0]])
  print(f"\n{FLAGS.reps} rounds × {FLAGS.steps} steps; ratio = {names[0]}'s step ÷ this set's "
        f"(> 1 = faster than {names[0]}), median of the per-round ratios [min-max]")
  print(f"{'flag set':<20} {'ms/step':>9} {'ratio':>6} {'range':>13}")
  for name in names:
    m = np.array(medians[name])
    ratio = base / m
    print(f"{name:<20} {np.median(m) * 1e3:9.1f} {np.median(ratio):6.3f} "
          f"{ratio.min():6.3f}-{ratio.max():.3f}")
  for name in failed:
    print(f"{name:<20} {'did not compile':>9}")


if __name__ == "__main__":
  app.run(main)
