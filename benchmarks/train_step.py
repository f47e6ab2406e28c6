"""Train-step speed: images/s, step time, XLA's FLOP estimate and the achieved GFLOP/s.

  python benchmarks/train_step.py                                   # configs/default.py
  python benchmarks/train_step.py --config=configs/hourglass.py --config.model.num_stacks=8 \
      --config.train.batch_size=4 --steps=10

Times whole jitted steps (random inputs, donated state) with block_until_ready after
compilation, and reports the median. The environment tuning of jaxpose.runtime applies
(JAXPOSE_CPU_TUNING=0 to compare without it).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from jaxpose import runtime  # noqa: E402

runtime.configure(reexec=True)

import time  # noqa: E402

import jax  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from jaxpose import config_check, families, grouping, models  # noqa: E402
from jaxpose.training import optim, state as state_lib  # noqa: E402
from jaxpose.training.step import make_train_step  # noqa: E402

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
config_flags.DEFINE_config_file("config", os.path.join(_ROOT, "configs", "default.py"))
flags.DEFINE_integer("steps", 10, "Timed steps.")
flags.DEFINE_integer("warmup", 2, "Untimed steps after compilation.")
FLAGS = flags.FLAGS


def fake_batch(config, family, batch_size, rng):
  """Random inputs with every target key the model's family asks the pipeline for."""
  s, h, k = config.data.image_size, config.data.get("heatmap_size", 1), config.model.num_joints
  targets = set(family.targets())
  batch = {"image": rng.normal(size=(batch_size, s, s, 3)).astype(np.float32),
           "target_weight": np.ones((batch_size, k), np.float32)}
  if "heatmaps" in targets:
    batch["heatmaps"] = rng.uniform(size=(batch_size, h, h, k)).astype(np.float32)
  if "present" in targets:
    batch["present"] = (rng.uniform(size=(batch_size, k)) > 0.2).astype(np.float32)
  if "heatmap_pyramid" in targets:
    batch["heatmap_pyramid"] = tuple(
        rng.uniform(size=(batch_size, h // 2 ** i, h // 2 ** i, k)).astype(np.float32)
        for i in range(int(config.data.get("pyramid_levels", 4))))
  if "coords" in targets:
    batch["coords"] = rng.uniform(size=(batch_size, k, 2)).astype(np.float32)
  return batch


def xla_flops(compiled) -> float:
  """XLA's FLOP estimate of a compiled computation (``cost_analysis``; NaN when it has none)."""
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  return float(cost.get("flops", float("nan"))) if cost else float("nan")


class CompiledStep:
  """One jitted train step of ``config`` (a resolved recipe), compiled, with its state (donated
  and threaded through every call) and a random batch of ``config.train.batch_size``.

  ``run(n)`` takes ``n`` steps, each timed with ``block_until_ready``, and returns the times, so
  that a caller can alternate it with other contenders (benchmarks/pytorch_reference.py);
  ``state`` and ``batch`` are the current ones, ``metrics`` those of the last step.
  """

  def __init__(self, config):
    self.batch_size = int(config.train.batch_size)
    self.size = int(config.data.image_size)
    model = models.create(config.model)
    tx = optim.optimizer(config.train, optim.schedule(config.train, 1000, 100))
    self.state = state_lib.create(model, tx, jax.random.PRNGKey(0),
                                  (1, self.size, self.size, 3))
    self.params = state_lib.num_params(self.state.params)
    family = families.get(config)
    self.batch = jax.device_put(fake_batch(config, family, self.batch_size,
                                           np.random.default_rng(0)))
    frozen = config_check.frozen_predicate(config.train)  # phase 2 of a two-phase recipe, as the trainer
    step = jax.jit(make_train_step(model, tx, family, frozen=frozen), donate_argnums=(0,))
    t0 = time.perf_counter()
    self.compiled = step.lower(self.state, self.batch).compile()
    self.compile_s = time.perf_counter() - t0
    self.gflop_per_step = xla_flops(self.compiled) / 1e9
    self.metrics = None

  def run(self, n: int) -> list:
    times = []
    for _ in range(n):
      t = time.perf_counter()
      self.state, self.metrics = self.compiled(self.state, self.batch)
      jax.block_until_ready((self.state, self.metrics))
      times.append(time.perf_counter() - t)
    return times


def measure(config, steps: int = 10, warmup: int = 2) -> dict:
  """Compiles one jitted train step of ``config`` (a resolved recipe) and times ``steps`` of
  it after ``warmup`` untimed ones: the median and minimum step time, images/s, XLA's FLOP
  estimate and the achieved GFLOP/s, the parameter count and the compile time."""
  s = CompiledStep(config)
  s.run(warmup)
  times = s.run(steps)
  med = float(np.median(times))
  return {"batch": s.batch_size, "size": s.size, "params": s.params, "compile_s": s.compile_s,
          "step_s": med, "min_step_s": min(times), "images_per_s": s.batch_size / med,
          "gflop_per_step": s.gflop_per_step, "gflop_per_s": s.gflop_per_step / med}


def main(_):
  config, _ = grouping.resolve_config(FLAGS.config)  # a PBN's groups, as the trainer resolves them
  r = measure(config, FLAGS.steps, FLAGS.warmup)
  print(f"config={config.get('name')} model={config.model.name} stacks={config.model.get('num_stacks')} "
        f"features={config.model.get('features')} input={r['size']}x{r['size']} batch={r['batch']} "
        f"params={r['params']:,} backend={jax.default_backend()} devices={jax.device_count()}")
  print(f"compile {r['compile_s']:.1f} s | step median {r['step_s'] * 1e3:.1f} ms "
        f"(min {r['min_step_s'] * 1e3:.1f}) | {r['images_per_s']:.1f} images/s | "
        f"{r['gflop_per_step']:.1f} GFLOP/step (XLA estimate) | {r['gflop_per_s']:.1f} GFLOP/s")


if __name__ == "__main__":
  app.run(main)
