"""Input-pipeline speed alone: images/s of augmented, encoded training batches, per host core.

  python benchmarks/pipeline.py [--config=...] [--batches=50]
  python benchmarks/pipeline.py --config.data.image_size=256 --config.data.heatmap_size=64 \
      --cores=1,2 --out=/tmp/pipeline.json          # the figure benchmarks/accelerator.py takes

Each core count runs in its own process restricted to that many CPUs (``os.sched_setaffinity``
before tensorflow starts, so tf.data's thread pool and tf's op pools see only them; tf's
inter/intra-op threads are set to the same number): the images/s there ÷ cores is the per-core
rate, and ``--out`` writes them as JSON (``per_core_images_per_s`` = the 1-core rate, or the
smallest count's rate ÷ its cores), which ``benchmarks/accelerator.py --per_core_images_s``
turns into the host cores a measured step rate needs. The first batches pay for generating /
reading and caching the dataset and are skipped (``--warmup``).
"""
import json
import os
import subprocess
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
flags.DEFINE_list("cores", [], "Core counts to measure, each in its own process pinned to that "
                  "many CPUs; empty = this process as it is.")
flags.DEFINE_string("out", "", "JSON file for the per-core figures (with --cores).")
FLAGS = flags.FLAGS


def measure() -> dict:
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
  return {"dataset": config.data.name, "image_size": int(config.data.image_size),
          "targets": list(targets), "batch": bs, "cpus": len(os.sched_getaffinity(0)),
          "warmup_s": warm, "images_per_s": FLAGS.batches * bs / dt,
          "ms_per_batch": dt / FLAGS.batches * 1e3, "shapes": {k: list(v) for k, v in shapes.items()}}


def cpu_model() -> str:
  try:
    with open("/proc/cpuinfo") as f:
      return next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
  except OSError:
    return ""


def pin(cores: int) -> None:
  """This process onto its first ``cores`` CPUs, before tensorflow creates its thread pools."""
  cpus = sorted(os.sched_getaffinity(0))
  if cores > len(cpus):
    raise SystemExit(f"error: --cores={cores}, but this process may use {len(cpus)} CPUs")
  os.sched_setaffinity(0, cpus[:cores])
  import tensorflow as tf
  tf.config.threading.set_inter_op_parallelism_threads(cores)
  tf.config.threading.set_intra_op_parallelism_threads(cores)


def main(argv):
  if os.environ.get("JAXPOSE_PIPELINE_CHILD"):  # one core count: print one JSON line
    pin(int(os.environ["JAXPOSE_PIPELINE_CHILD"]))
    print("RESULT " + json.dumps(measure()), flush=True)
    return
  if not FLAGS.cores:
    r = measure()
    print(f"dataset={r['dataset']} targets={tuple(r['targets'])} batch={r['batch']} "
          f"cpus={r['cpus']} | warm-up {r['warmup_s']:.1f} s | {r['images_per_s']:.1f} images/s "
          f"({r['ms_per_batch']:.1f} ms/batch)")
    print("batch:", r["shapes"])
    return
  results = {}
  args = [a for a in sys.argv[1:] if not a.startswith(("--cores", "--out"))]
  for n in (int(c) for c in FLAGS.cores):
    env = dict(os.environ, JAXPOSE_PIPELINE_CHILD=str(n))
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), *args], env=env,
                          capture_output=True, text=True, check=False)
    line = next((l for l in proc.stdout.splitlines() if l.startswith("RESULT ")), None)
    if proc.returncode or line is None:
      raise SystemExit(f"error: the {n}-core run failed:\n{proc.stderr[-2000:]}")
    r = json.loads(line[len("RESULT "):])
    results[n] = r
    print(f"{n} core(s): {r['images_per_s']:.1f} images/s = {r['images_per_s'] / n:.1f} per core "
          f"({r['dataset']}, {r['image_size']}², targets {tuple(r['targets'])}, batch "
          f"{r['batch']}, warm-up {r['warmup_s']:.1f} s)", flush=True)
  first = min(results)
  report = {"command": " ".join([os.path.relpath(__file__, _ROOT), *sys.argv[1:]]),
            "cpu": cpu_model(),
            "load_average": os.getloadavg()[0],
            "per_core_images_per_s": results[first]["images_per_s"] / first,
            "runs": {str(n): r for n, r in results.items()}}
  print(f"per core: {report['per_core_images_per_s']:.1f} images/s "
        f"(load average {report['load_average']:.1f})")
  if FLAGS.out:
    with open(FLAGS.out, "w") as f:
      json.dump(report, f, indent=1)


if __name__ == "__main__":
  app.run(main)
