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

from jaxpose import families, grouping, models  # noqa: E402
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


def main(_):
  config, _ = grouping.resolve_config(FLAGS.config)  # a PBN's groups, as the trainer resolves them
  bs = int(config.train.batch_size)
  size = int(config.data.image_size)
  model = models.create(config.model)
  tx = optim.optimizer(config.train, optim.schedule(config.train, 1000, 100))
  state = state_lib.create(model, tx, jax.random.PRNGKey(0), (1, size, size, 3))
  family = families.get(config)
  batch = jax.device_put(fake_batch(config, family, bs, np.random.default_rng(0)))
  step = jax.jit(make_train_step(model, tx, family), donate_argnums=(0,))
  t0 = time.perf_counter()
  compiled = step.lower(state, batch).compile()
  compile_s = time.perf_counter() - t0
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  flops = float(cost.get("flops", float("nan"))) if cost else float("nan")
  for _ in range(FLAGS.warmup):
    state, m = compiled(state, batch)
  jax.block_until_ready(state)
  times = []
  for _ in range(FLAGS.steps):
    t = time.perf_counter()
    state, m = compiled(state, batch)
    jax.block_until_ready((state, m))
    times.append(time.perf_counter() - t)
  med = float(np.median(times))
  print(f"config={config.get('name')} model={config.model.name} stacks={config.model.get('num_stacks')} "
        f"features={config.model.get('features')} input={size}x{size} batch={bs} "
        f"params={state_lib.num_params(state.params):,} backend={jax.default_backend()} "
        f"devices={jax.device_count()}")
  print(f"compile {compile_s:.1f} s | step median {med * 1e3:.1f} ms (min {min(times) * 1e3:.1f}) | "
        f"{bs / med:.1f} images/s | {flops / 1e9:.1f} GFLOP/step (XLA estimate) | "
        f"{flops / med / 1e9:.1f} GFLOP/s")


if __name__ == "__main__":
  app.run(main)
