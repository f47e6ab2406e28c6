"""Evaluate a saved checkpoint with nothing but its workdir, or any system's predictions file
(``python evaluate.py`` in a checkout, ``jaxpose-evaluate`` when installed).

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
import os

from absl import app, flags

from jaxpose import runtime
from jaxpose.errors import exit_on_user_error

FLAGS = flags.FLAGS


def define_flags() -> None:
  """The command's flags, on absl's global ``FLAGS``, defined when the command runs (``run``)
  rather than on import, so that this module and ``jaxpose.train`` import together."""
  flags.DEFINE_string("workdir", None, "A training run directory.")
  flags.DEFINE_string("checkpoint", None, "One checkpoint directory (WORKDIR/checkpoints/STEP).")
  flags.DEFINE_string("pretrained", None, "A released model (jaxpose.zoo, e.g. lsp) instead of "
                      "--workdir; its results go to runs/pretrained_<NAME>/eval/ unless --output.")
  flags.DEFINE_integer("limit", None, "Only the first N records of the split (e.g. the model "
                       "card's first-100 check).", lower_bound=1)
  flags.DEFINE_enum("which", None, ["latest", "best"], "Which checkpoint of --workdir (default: "
                    "the config's eval.checkpoint).")
  flags.DEFINE_boolean("flip", None, "Flip test (default: the config's eval.flip).")
  flags.DEFINE_string("scales", None, "Multi-scale test: comma-separated box-size factors, e.g. "
                      "0.8,0.9,1.0,1.1,1.2,1.3 (s > 1 = wider box, smaller person; default: the "
                      "config's eval.scales, (1.0,) = single scale). Combines with --flip.")
  flags.DEFINE_boolean("multiscale", False, "Shorthand for the six-scale pyramid of Tang & Wu "
                       "2019 §4.2 / Yang et al. 2017: --scales=0.8,0.9,1.0,1.1,1.2,1.3.")
  flags.DEFINE_enum("subpixel", None, ["dark", "quarter"], "Sub-pixel step of heat-map decoding: "
                    "DARK's Taylor step (Zhang et al. 2020) or the quarter-pixel shift of Newell et "
                    "al. (default: the config's eval.subpixel).")
  flags.DEFINE_integer("batch_size", None, "Evaluation batch (default: the config's "
                       "eval.batch_size); any size works on any number of devices.", lower_bound=1)
  flags.DEFINE_string("split", None, "Split to evaluate (default: the config's data.eval_split).")
  flags.DEFINE_string("dataset", None, "Evaluate on this dataset instead of the config's "
                      "(same joint set needed), or the dataset of --predictions.")
  flags.DEFINE_string("data_root", None, "Folder of --dataset's raw files (default: "
                      "$JAXPOSE_DATA/<dataset>).")
  flags.DEFINE_list("metrics", None, "Metrics, e.g. pckh@0.5,pckh@0.1,auc,pck@0.2,pcp@0.5 "
                    "(default: the config's eval.metrics).")
  flags.DEFINE_integer("stage", None, "Predict from stage t (a CPM's stage t; the first t stages of "
                       "a DeepPose cascade); default the config's eval.stage, 0 = the last.")
  flags.DEFINE_string("curves", None, "Also draw the FLIC accuracy curves of Li et al. eq. (7), "
                      "r = 0..20, elbows and wrists, to this PNG (Fig. 4).")
  flags.DEFINE_string("output", None, "JSON path (default: WORKDIR/eval/<dataset>_<split>.json).")
  flags.DEFINE_string("predictions", None, "Evaluate this predictions file (official MPII layout: "
                      "`preds` N x 16 x 2, 1-based, .mat or .h5) instead of a checkpoint.")
  flags.DEFINE_string("gt", None, "With --predictions: an official gt_valid.mat to score against "
                      "(default: the dataset's annotations of --split).")
  flags.DEFINE_string("write_predictions", None, "Also write the checkpoint's predictions in the "
                      "official MPII layout (.mat or .h5).")


def _split(name):
  """The split name with its aliases resolved ("valid" → "validation"); None stays None."""
  from jaxpose.data import datasets  # tf-free; the one alias table
  return datasets.canonical_split(name)


def _evaluate_predictions_file():
  """--predictions: any system's predictions against the annotations or an official gt file."""
  from jaxpose import skeleton as skel
  from jaxpose.data import datasets, sources
  from jaxpose.evaluation import mpii_format, report
  from jaxpose.formats import mpii as mpii_files

  dataset = FLAGS.dataset or "mpii"
  split = _split(FLAGS.split) or "validation"
  if FLAGS.gt:
    gt = source = FLAGS.gt
  else:  # the split's annotations, in the order the predictions file must follow
    gt = mpii_files.GtValid.from_records(sources.read_split(dataset, split, FLAGS.data_root))
    source = f"{dataset}/{split}"
  # A file in the wrong layout or for other people raises FormatError, a user error.
  results = mpii_format.evaluate_files(
      FLAGS.predictions, gt, FLAGS.metrics or mpii_format.DEFAULT_METRICS,
      skeleton=skel.get(datasets.get(dataset).skeleton), source=source)
  results.update(step=None, config="", dataset=dataset, split=split)
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


def _curves(res: dict, skeleton, path: str) -> str:
  """Eq. (7) curves of the predictions: the skeleton's shoulder–hip torso, else the records'
  ``norm`` (upper-body skeletons, whose FLIC records carry the torso length there)."""
  from jaxpose.evaluation import curves
  gt, valid = res["joints"][..., :2], res["valid"]
  try:
    curves.flic_torso(skeleton)
    c = curves.flic_curves(res["keypoints"], gt, valid, skeleton)
  except ValueError:
    c = curves.flic_curves(res["keypoints"], gt, valid, skeleton, torso_length=res["norm"])
  names = [n for n in ("Elbow", "Wrist") if n in c["groups"]] or list(c["groups"])
  return curves.plot_curves(c, path, names)


@exit_on_user_error
def main(argv):
  del argv
  if FLAGS.predictions:
    if FLAGS.scales is not None or FLAGS.multiscale:
      raise app.UsageError("--scales/--multiscale test a checkpoint; --predictions is a file")
    return _evaluate_predictions_file()
  scales = _scales()
  from jaxpose import checkpoint, inference

  data_overrides = {}
  if FLAGS.dataset:
    data_overrides = {"name": FLAGS.dataset, "root": FLAGS.data_root or "", "skeleton": ""}
  if FLAGS.limit:
    data_overrides["limit"] = FLAGS.limit
  if FLAGS.pretrained:
    if FLAGS.workdir or FLAGS.checkpoint or FLAGS.which or FLAGS.stage is not None:
      raise app.UsageError("--pretrained replaces --workdir / --checkpoint / --which / --stage")
    predictor = inference.Predictor.pretrained(FLAGS.pretrained, flip=FLAGS.flip, scales=scales,
                                               data_overrides=data_overrides,
                                               subpixel=FLAGS.subpixel)
    return _evaluate(predictor, os.path.join("runs", f"pretrained_{FLAGS.pretrained}"))
  path = FLAGS.checkpoint or FLAGS.workdir
  if not path:
    raise app.UsageError("give --workdir=DIR, --checkpoint=DIR/checkpoints/STEP, "
                         "--pretrained=NAME or --predictions=FILE")
  if FLAGS.which is None and not FLAGS.checkpoint:  # the config's eval.checkpoint
    wd, latest = inference.resolve_checkpoint(path, "latest")
    saved = checkpoint.restore_config(checkpoint.manager(wd, read_only=True), latest)
    which = saved.eval.get("checkpoint", "latest")
  else:
    which = FLAGS.which or "latest"
  workdir, step = inference.resolve_checkpoint(path, which)
  config = checkpoint.restore_config(checkpoint.manager(workdir, read_only=True), step)
  flip = bool(config.eval.flip) if FLAGS.flip is None else FLAGS.flip
  predictor = inference.load(path, which, flip=flip, data_overrides=data_overrides,
                             scales=scales, stage=FLAGS.stage, subpixel=FLAGS.subpixel)
  predictor.checkpoint_dir = os.path.join(workdir, "checkpoints", str(step))
  return _evaluate(predictor, workdir)


def _evaluate(predictor, workdir: str) -> None:
  """Scores ``predictor`` on the split asked for, prints the tables and writes the JSON (into
  ``workdir``'s eval/ unless --output), the curves and the official predictions file."""
  from jaxpose import config_check, inference
  from jaxpose.evaluation import report
  from jaxpose.formats import mpii as mpii_files
  split = _split(FLAGS.split) or predictor.config.data.eval_split
  if FLAGS.metrics:
    config_check.check_metrics(FLAGS.metrics, predictor.family)
  results = inference.evaluate(predictor, split, metrics=FLAGS.metrics, progress=True,
                               batch_size=FLAGS.batch_size)
  print(report.format_results(results))
  extra = {"flip": predictor.flip, "checkpoint": predictor.checkpoint_dir,
           "subpixel": str(predictor.config.eval.subpixel)}
  if FLAGS.limit:
    extra["limit"] = FLAGS.limit
  print(f"wrote {report.write_json(results, workdir, extra, path=FLAGS.output)}")
  if FLAGS.curves:
    print(f"wrote {_curves(results['_predictions'], predictor.skeleton, FLAGS.curves)}")
  if FLAGS.write_predictions:
    pred = results["_predictions"]["keypoints"]
    print(f"wrote {mpii_files.write_predictions(FLAGS.write_predictions, pred)}")


def run() -> None:
  """The command line: ``python evaluate.py`` in a checkout, ``jaxpose-evaluate`` when installed."""
  runtime.configure()  # before jax is imported
  define_flags()
  from jaxpose import configs
  runtime.run_absl(main, __name__, __doc__, flags_parser=configs.parse_flags)


if __name__ == "__main__":
  run()
