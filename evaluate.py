"""Evaluate a saved checkpoint with nothing but its workdir, or any system's predictions file.

  python evaluate.py --workdir=runs/default [--flip] [--which=best] [--split=test]
  python evaluate.py --workdir=DIR --flip --multiscale      # Tang & Wu 2019 §4.2: six scales + flip
  python evaluate.py --workdir=DIR --scales=0.9,1.0,1.1     # any image pyramid (box side × s)
  python evaluate.py --checkpoint=runs/default/checkpoints/1200
  python evaluate.py --workdir=DIR --dataset=lsp --split=test --metrics=pck@0.2,pcp
  python evaluate.py --workdir=DIR --write_predictions=preds.mat      # official MPII layout
  python evaluate.py --predictions=preds.mat --dataset=mpii --split=valid [--gt=gt_valid.mat]

Prints the paper-layout tables and writes WORKDIR/eval/<dataset>_<split>.json (or --output),
which records the test options "flip" and "scales" beside the metrics.
"""
from jaxpose import runtime

runtime.configure()

import os  # noqa: E402

from absl import app, flags, logging  # noqa: E402

flags.DEFINE_string("workdir", None, "A training run directory.")
flags.DEFINE_string("checkpoint", None, "One checkpoint directory (WORKDIR/checkpoints/STEP).")
flags.DEFINE_enum("which", "latest", ["latest", "best"], "Which checkpoint of --workdir.")
flags.DEFINE_boolean("flip", None, "Flip test (default: the config's eval.flip).")
flags.DEFINE_string("scales", None, "Multi-scale test: comma-separated box-size factors, e.g. "
                    "0.8,0.9,1.0,1.1,1.2,1.3 (s > 1 = wider box, smaller person; default: the "
                    "config's eval.scales, (1.0,) = single scale). Combines with --flip.")
flags.DEFINE_boolean("multiscale", False, "Shorthand for the six-scale pyramid of Tang & Wu "
                     "2019 §4.2 / Yang et al. 2017: --scales=0.8,0.9,1.0,1.1,1.2,1.3.")
flags.DEFINE_string("split", None, "Split to evaluate (default: the config's data.eval_split).")
flags.DEFINE_string("dataset", None, "Evaluate on this dataset instead of the config's "
                    "(same joint set needed), or the dataset of --predictions.")
flags.DEFINE_string("data_root", None, "Folder of --dataset's raw files (default: "
                    "$JAXPOSE_DATA/<dataset>).")
flags.DEFINE_list("metrics", None, "Metrics, e.g. pckh@0.5,pckh@0.1,auc,pck@0.2,pcp@0.5 "
                  "(default: the config's eval.metrics).")
flags.DEFINE_string("output", None, "JSON path (default: WORKDIR/eval/<dataset>_<split>.json).")
flags.DEFINE_string("predictions", None, "Evaluate this predictions file (official MPII layout: "
                    "`preds` N x 16 x 2, 1-based, .mat or .h5) instead of a checkpoint.")
flags.DEFINE_string("gt", None, "With --predictions: an official gt_valid.mat to score against "
                    "(default: the dataset's annotations of --split).")
flags.DEFINE_string("write_predictions", None, "Also write the checkpoint's predictions in the "
                    "official MPII layout (.mat or .h5).")
FLAGS = flags.FLAGS

_SPLIT_ALIASES = {"valid": "validation", "val": "validation"}


def _split(name):
  return _SPLIT_ALIASES.get(name, name) if name else name


def _evaluate_predictions_file():
  """--predictions: any system's predictions against the annotations or an official gt file."""
  from jaxpose import skeleton as skel
  from jaxpose.data import sources
  from jaxpose.evaluation import mpii_format, report
  from jaxpose.evaluation.tables import compute_metrics
  import numpy as np

  dataset = FLAGS.dataset or "mpii"
  split = _split(FLAGS.split) or "validation"
  metrics = FLAGS.metrics or ["pckh@0.5", "pckh@0.1", "auc"]
  preds = mpii_format.read_predictions(FLAGS.predictions)
  if FLAGS.gt:
    gt = mpii_format.read_gt_valid(FLAGS.gt)
    joints, valid, norm, visible, source = gt.gt, gt.valid, gt.norm, None, FLAGS.gt
  else:
    records = sources.read_split(dataset, split, FLAGS.data_root)
    joints = np.stack([r.joints[:, :2] for r in records])
    valid = np.stack([r.valid for r in records])
    visible = np.stack([r.visible for r in records])
    norm = np.array([r.norm for r in records])
    source = f"{dataset}/{split}"
  if len(preds) != len(joints):
    raise app.UsageError(f"{FLAGS.predictions}: {len(preds)} predictions, but {source} has "
                         f"{len(joints)} people")
  skeleton = skel.get(sources.SKELETONS[dataset])
  if preds.shape[1] != skeleton.num_joints:
    raise app.UsageError(f"{FLAGS.predictions}: {preds.shape[1]} joints per person, "
                         f"{dataset} has {skeleton.num_joints}")
  results = compute_metrics(metrics, preds, joints, valid, norm, skeleton, visible=visible)
  results.update(step=None, config="", dataset=dataset, split=split, num_examples=len(preds))
  print(report.format_results(results))
  path = FLAGS.output or os.path.splitext(FLAGS.predictions)[0] + "_eval.json"
  print(f"wrote {report.write_json(results, '', {'predictions': FLAGS.predictions, 'gt': source}, path=path)}")


def _scales():
  """The --scales / --multiscale choice, or None for the config's eval.scales."""
  from jaxpose.codecs import heatmap
  from jaxpose.inference import parse_scales
  if FLAGS.multiscale and FLAGS.scales is not None:
    raise app.UsageError("give either --multiscale or --scales, not both")
  if FLAGS.multiscale:
    return heatmap.PYRAMID_SCALES
  if FLAGS.scales is None:
    return None
  try:
    return parse_scales(FLAGS.scales)
  except ValueError as e:
    raise app.UsageError(str(e)) from None


def main(argv):
  del argv
  if FLAGS.predictions:
    if FLAGS.scales is not None or FLAGS.multiscale:
      raise app.UsageError("--scales/--multiscale test a checkpoint; --predictions is a file")
    return _evaluate_predictions_file()
  scales = _scales()
  from jaxpose import inference
  from jaxpose.evaluation import mpii_format, report
  from jaxpose.training.checkpoint import manager, restore_config

  path = FLAGS.checkpoint or FLAGS.workdir
  if not path:
    raise app.UsageError("give --workdir=DIR, --checkpoint=DIR/checkpoints/STEP or "
                         "--predictions=FILE")
  workdir, step = inference.resolve_checkpoint(path, FLAGS.which)
  config = restore_config(manager(workdir, read_only=True), step)
  flip = bool(config.eval.flip) if FLAGS.flip is None else FLAGS.flip
  data_overrides = {}
  if FLAGS.dataset:
    data_overrides = {"name": FLAGS.dataset, "root": FLAGS.data_root or "", "skeleton": ""}
  predictor = inference.load(path, FLAGS.which, flip=flip, data_overrides=data_overrides,
                             scales=scales)
  split = _split(FLAGS.split) or predictor.config.data.eval_split
  results = report.evaluate(predictor, split, metrics=FLAGS.metrics, progress=True)
  print(report.format_results(results))
  extra = {"flip": flip, "checkpoint": os.path.join(workdir, "checkpoints", str(step))}
  print(f"wrote {report.write_json(results, workdir, extra, path=FLAGS.output)}")
  if FLAGS.write_predictions:
    pred = results["_predictions"]["pred"]
    print(f"wrote {mpii_format.write_predictions(FLAGS.write_predictions, pred)}")


if __name__ == "__main__":
  logging.set_verbosity(logging.WARNING)
  app.run(main)
