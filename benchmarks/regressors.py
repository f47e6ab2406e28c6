"""Train-step speed of the course report's four coordinate regressors (issue #15), both phases,
at paper scale (configs/regressor_*_lsp.py: 224/227-pixel crops) and at the reduced CPU size
(configs/regressor_*_lsp_cpu.py), in one process so that the figures are comparable:

  python benchmarks/regressors.py                      # 5 timed steps each, paper batch 8
  python benchmarks/regressors.py --steps=3 --paper_batch=4 --only=baseline1,alexnet

Paper scale is timed at ``--paper_batch`` (the recipe's 128 would take minutes per step on a
CPU; images/s barely depends on it once the batch fills the cores) and the CPU recipes at their
own batch (16). Each line: images/s, step time, XLA's FLOP estimate per step and the achieved
GFLOP/s (see benchmarks/train_step.py). Phase 2 freezes everything but the regression branch
(``train.trainable``), so XLA drops those gradients: its step is cheaper.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import train_step  # noqa: E402  (configures the runtime first, as every benchmark does)

import importlib  # noqa: E402

import jax  # noqa: E402
from absl import app, flags  # noqa: E402

ARCHITECTURES = ("baseline1", "baseline2", "alexnet", "vgg19")
flags.DEFINE_integer("paper_batch", 8, "Batch of the paper-scale timings.")
flags.DEFINE_string("only", "", "Comma-separated subset of " + ",".join(ARCHITECTURES) + ".")
FLAGS = flags.FLAGS


def recipes(only=()):
  """(architecture, size, phase, config) for every recipe to time."""
  for arch in only or ARCHITECTURES:
    for size, suffix in (("paper", ""), ("cpu", "_cpu")):
      module = importlib.import_module(f"configs.regressor_{arch}_lsp{suffix}")
      for phase in ("1", "2"):
        c = module.get_config(phase)
        if size == "paper":
          c.train.batch_size = FLAGS.paper_batch
        yield arch, size, phase, c


def main(_):
  only = tuple(a for a in FLAGS.only.split(",") if a)
  unknown = sorted(set(only) - set(ARCHITECTURES))
  if unknown:
    raise SystemExit(f"error: --only: unknown architecture(s) {unknown}; "
                     f"expected some of {list(ARCHITECTURES)}")
  print(f"backend={jax.default_backend()} devices={jax.device_count()} "
        f"timed steps={FLAGS.steps} (median), warm-up {FLAGS.warmup}")
  head = (f"{'model':<10} {'size':<5} {'phase':<5} {'input':>5} {'batch':>5} {'params':>12} "
          f"{'step ms':>9} {'images/s':>9} {'GFLOP/step':>10} {'GFLOP/s':>8}")
  print(head)
  print("-" * len(head))
  for arch, size, phase, c in recipes(only):
    r = train_step.measure(c, FLAGS.steps, FLAGS.warmup)
    print(f"{arch:<10} {size:<5} {phase:<5} {r['size']:>5} {r['batch']:>5} {r['params']:>12,} "
          f"{r['step_s'] * 1e3:>9.1f} {r['images_per_s']:>9.1f} {r['gflop_per_step']:>10.1f} "
          f"{r['gflop_per_s']:>8.1f}", flush=True)


if __name__ == "__main__":
  flags.FLAGS.set_default("steps", 5)
  app.run(main)
