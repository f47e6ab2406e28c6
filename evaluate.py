"""Evaluate a saved checkpoint with nothing but its workdir.

  python evaluate.py --workdir=runs/default [--flip] [--which=best] [--split=test]
  python evaluate.py --checkpoint=runs/default/checkpoints/1200

Prints the PCKh table and writes WORKDIR/eval/<dataset>_<split>.json.
"""
from jaxpose import runtime

runtime.configure()

import os  # noqa: E402

from absl import app, flags, logging  # noqa: E402

flags.DEFINE_string("workdir", None, "A training run directory.")
flags.DEFINE_string("checkpoint", None, "One checkpoint directory (WORKDIR/checkpoints/STEP).")
flags.DEFINE_enum("which", "latest", ["latest", "best"], "Which checkpoint of --workdir.")
flags.DEFINE_boolean("flip", None, "Flip test (default: the config's eval.flip).")
flags.DEFINE_string("split", None, "Split to evaluate (default: the config's data.eval_split).")
flags.DEFINE_list("metrics", None, "Metrics, e.g. pckh@0.5,pckh@0.1 (default: eval.metrics).")
flags.DEFINE_string("output", None, "JSON path (default: WORKDIR/eval/<dataset>_<split>.json).")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  from jaxpose import inference
  from jaxpose.evaluation import report
  from jaxpose.training.checkpoint import CheckpointError, manager, restore_config

  path = FLAGS.checkpoint or FLAGS.workdir
  if not path:
    raise app.UsageError("give --workdir=DIR or --checkpoint=DIR/checkpoints/STEP")
  workdir, step = inference.resolve_checkpoint(path, FLAGS.which)
  config = restore_config(manager(workdir, read_only=True), step)
  flip = bool(config.eval.flip) if FLAGS.flip is None else FLAGS.flip
  predictor = inference.load(path, FLAGS.which, flip=flip)
  split = FLAGS.split or config.data.eval_split
  results = report.evaluate(predictor, split, metrics=FLAGS.metrics, progress=True)
  print(report.format_results(results))
  extra = {"flip": flip, "checkpoint": os.path.join(workdir, "checkpoints", str(step))}
  if FLAGS.output:
    results_path = FLAGS.output
    os.makedirs(os.path.dirname(os.path.abspath(results_path)), exist_ok=True)
    import json
    with open(results_path, "w") as f:
      json.dump({k: v for k, v in results.items() if not k.startswith("_")} | extra, f, indent=2)
  else:
    results_path = report.write_json(results, workdir, extra)
  print(f"wrote {results_path}")


if __name__ == "__main__":
  logging.set_verbosity(logging.WARNING)
  app.run(main)
