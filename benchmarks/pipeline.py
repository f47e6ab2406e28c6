"""Input-pipeline speed alone: images/s of augmented, encoded training batches.

  python benchmarks/pipeline.py [--config=...] [--batches=50]

The first batches pay for generating/reading and caching the dataset and are skipped.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from jaxpose import runtime  # noqa: E402

runtime.configure()

import time  # noqa: E402

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
config_flags.DEFINE_config_file("config", os.path.join(_ROOT, "configs", "default.py"))
flags.DEFINE_integer("batches", 50, "Timed batches.")
flags.DEFINE_integer("warmup", 10, "Untimed batches (dataset preparation, cache fill).")
FLAGS = flags.FLAGS


def main(_):
  from jaxpose import families
  from jaxpose.data import pipeline
  config = FLAGS.config
  bs = int(config.train.batch_size)
  targets = families.get(config).targets()
  it = pipeline.train_iterator(config, bs, targets=targets)
  t0 = time.perf_counter()
  for _ in range(FLAGS.warmup):
    batch = next(it)
  warm = time.perf_counter() - t0
  t0 = time.perf_counter()
  for _ in range(FLAGS.batches):
    batch = next(it)
  dt = time.perf_counter() - t0
  shapes = {k: np.shape(v) for k, v in batch.items() if not isinstance(v, tuple)}
  print(f"dataset={config.data.name} targets={targets} batch={bs} "
        f"cpus={os.cpu_count()} | warm-up {warm:.1f} s | {FLAGS.batches * bs / dt:.1f} images/s "
        f"({dt / FLAGS.batches * 1e3:.1f} ms/batch)")
  print("batch:", shapes)


if __name__ == "__main__":
  app.run(main)
