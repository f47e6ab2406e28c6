"""``python -m jaxpose.visualize overlay | heatmaps | backtrack | filters`` (the commands are
described in ``jaxpose.visualize``)."""
from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Optional, Sequence

import numpy as np
from PIL import Image

from jaxpose.errors import USER_ERRORS, ConfigError, DataError
from jaxpose.visualize.drawing import (_label, _resize, _to_tile, crop_image, display, draw_skeleton,
                                       grid, heatmap_figure, image_to_crop, normalise, save_png,
                                       whole_image_box)
from jaxpose.visualize.features import PatchMean, backtrack_figure, backtracked_patches, filters_figure

def _load(args):
  """(Predictor, workdir) of ``--workdir``/``--which``, on ``--dataset`` where one is given."""
  from jaxpose import inference
  overrides = {}
  if getattr(args, "dataset", None):
    overrides = {"name": args.dataset, "root": args.data_root or "", "skeleton": ""}
  workdir, _ = inference.resolve_checkpoint(args.workdir, args.which)
  return inference.load(args.workdir, args.which, data_overrides=overrides), workdir


def _split(args, config) -> str:
  from jaxpose.data import datasets  # tf-free; the one split-alias table
  return datasets.canonical_split(args.split) or config.data.eval_split


def _examples(cfg, split: str, wanted) -> list:
  """The evaluation examples (dicts of one record's batch entries) whose record index is in
  ``wanted``, in index order: a split is stored in no particular order, so it is read until
  all are found (at most once through)."""
  from jaxpose.data import pipeline
  wanted, found = {int(i) for i in wanted}, {}
  for batch in pipeline.eval_batches(cfg, split, 32):
    for i in np.flatnonzero(batch["mask"]):
      if int(batch["index"][i]) in wanted:
        found[int(batch["index"][i])] = {k: v[i] for k, v in batch.items()}
    if len(found) == len(wanted):
      break
  return [found[j] for j in sorted(found)]


def overlay(args) -> str:
  """``overlay``: predictions and ground truth on the evaluation crops of records 0 … num-1."""
  from jaxpose.inference import Predictor
  predictor, workdir = _load(args)
  cfg = predictor.config
  if args.flip or (args.flip is None and cfg.eval.flip):  # default: as evaluate.py
    predictor = Predictor(cfg, predictor.variables, predictor.step, flip=True)
  split, size = _split(args, cfg), int(cfg.data.image_size)
  tile, tiles = args.tile or max(size, 128), []
  examples = _examples(cfg, split, range(args.num))
  for start in range(0, len(examples), 32):
    chunk = examples[start:start + 32]
    pred = predictor.predict_crops(np.stack([e["image"] for e in chunk]))
    for e, p, ok in zip(chunk, pred["joints"], pred["score"] > 0):
      gt = image_to_crop(e["joints"], e["affine"])
      t = Image.fromarray(draw_skeleton(
          _resize(display(e["image"]), tile), _to_tile(p, size, tile), predictor.skeleton, ok,
          gt=_to_tile(gt, size, tile), gt_valid=e["valid"]))
      _label(t, f"#{int(e['index'])}", max(9, tile // 14))
      tiles.append(np.asarray(t))
  path = args.output or os.path.join(workdir, "eval", f"{cfg.data.name}_{split}_overlay.png")
  return save_png(grid(tiles, math.ceil(math.sqrt(len(tiles)))), path)


def heatmaps(args) -> str:
  """``heatmaps``: Fig. 3 of Ke et al. 2018 for one image or record."""
  predictor, workdir = _load(args)
  cfg = predictor.config
  size = int(cfg.data.image_size)
  gt = gt_valid = None
  if args.index is not None:
    split = _split(args, cfg)
    ex = (_examples(cfg, split, [args.index]) or [None])[0]
    if ex is None:
      raise DataError(f"{cfg.data.name}/{split}: no record with index {args.index}")
    x, stem = ex["image"], f"{cfg.data.name}_{split}_{args.index}"
    gt, gt_valid = image_to_crop(ex["joints"], ex["affine"]), ex["valid"]
  else:
    if not os.path.isfile(args.image):
      raise FileNotFoundError(f"--image: file not found: {args.image}")
    with Image.open(args.image) as im:
      image = np.asarray(im.convert("RGB"))
    center, scale = ((args.center, args.scale) if args.center
                     else whole_image_box(*image.shape[:2]))
    crop, _ = crop_image(image, center, scale, size, float(cfg.data.get("scale_pad", 1.25)))
    x, stem = normalise(crop), os.path.splitext(os.path.basename(args.image))[0]
  columns = predictor.family.heatmap_panels(predictor.outputs(x[None]), 0, args.stacks)
  if not columns:
    raise ConfigError(f"model {cfg.model.name!r} ({predictor.family.name} family) makes no heat "
                      "maps; draw its predictions with `overlay`")
  fig = heatmap_figure(display(x), columns, predictor.skeleton, args.tile, args.vmax or None,
                       gt=gt, gt_valid=gt_valid)
  return save_png(fig, args.output or os.path.join(workdir, "eval", f"heatmaps_{stem}.png"))


def _hmlpe(args):
  """(Predictor, workdir) of ``--workdir``, refused unless the model is an HMLPE."""
  predictor, workdir = _load(args)
  model, name = predictor.model, predictor.config.model.name
  if predictor.family.name != "hmlpe" or not all(
      callable(getattr(model, m, None)) for m in ("layers", "feature_maps", "first_layer_filters")):
    raise ConfigError(f"model.name={name!r} is not hmlpe: `{args.command}` shows the features of "
                      "the HMLPE network (Li et al. 2014 §5); other models have `overlay` and "
                      "`heatmaps`")
  return predictor, workdir


def backtrack(args) -> str:
  """``backtrack``: Algorithm 1's patches of conv layer ``--layer``, averaged (Fig. 6b/6c) and
  per image (Fig. 7)."""
  import jax
  from jaxpose.data import datasets, pipeline
  predictor, workdir = _hmlpe(args)
  model, cfg = predictor.model, predictor.config
  layers, name = model.layers(), f"conv{args.layer}"
  names = [l.name for l in layers]
  if name not in names:
    convs = [int(n[4:]) for n in names if n.startswith("conv")]
    raise ConfigError(f"--layer={args.layer}: this HMLPE has conv layers {convs}")
  stack = layers[:names.index(name) + 1]
  split = datasets.canonical_split(args.split) or cfg.data.train_split
  limit = int(args.num_images) or None  # 0: the whole split
  fmaps = jax.jit(lambda v, x: model.feature_maps(v, x, name))
  acc, shown, seen = PatchMean(), [], 0
  for batch in pipeline.eval_batches(cfg, split, int(cfg.eval.batch_size), inputs=()):
    keep = np.flatnonzero(batch["mask"])[:None if limit is None else limit - seen]
    maps = np.asarray(fmaps(predictor.variables, batch["image"]))[keep]
    crops = display(batch["image"][keep])
    patches, boxes, active = backtracked_patches(maps, crops, stack)
    acc.add(patches, active)
    for i in range(min(len(keep), args.show - len(shown))):
      shown.append((int(batch["index"][keep[i]]), crops[i], patches[i], boxes[i], active[i]))
    seen += len(keep)
    if limit is not None and seen >= limit:
      break
  if not seen:
    raise DataError(f"{cfg.data.name}/{split}: no images to backtrack")
  mean, count = acc.mean()
  fig = backtrack_figure(mean / 255.0, count, seen, shown, int(cfg.data.image_size), args.tile,
                         name)  # the patches are uint8 crops
  return save_png(fig, args.output or os.path.join(
      workdir, "eval", f"backtrack_{name}_{cfg.data.name}_{split}.png"))


def filters(args) -> str:
  """``filters``: the first-layer filters of an HMLPE (Fig. 6a)."""
  predictor, workdir = _hmlpe(args)
  fig = filters_figure(predictor.model.first_layer_filters(predictor.variables), args.tile,
                       args.cols)
  return save_png(fig, args.output or os.path.join(workdir, "eval", "filters_conv1.png"))


def comma_floats(text: str, form: str) -> list:
  """An argparse value of ``len(form.split(","))`` comma-separated numbers, e.g. ``form="x,y"``;
  else ``ArgumentTypeError`` naming the expected form (shared with ``jaxpose.predict``)."""
  try:
    values = [float(v) for v in text.split(",")]
  except ValueError:
    values = []
  if len(values) != len(form.split(",")):
    raise argparse.ArgumentTypeError(f"expected {form}, got {text!r}")
  return values


def _xy(text: str) -> list:
  return comma_floats(text, "x,y")


def parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(prog="python -m jaxpose.visualize",
                              description=sys.modules["jaxpose.visualize"].__doc__.split("\n")[0])
  sub = p.add_subparsers(dest="command", required=True)
  for name, helptext in (("overlay", "predicted and true skeletons on evaluation crops"),
                         ("heatmaps", "per-joint heat maps before/after refinement (Ke Fig. 3)")):
    s = sub.add_parser(name, help=helptext)
    s.add_argument("--workdir", required=True, help="run directory or WORKDIR/checkpoints/STEP")
    s.add_argument("--which", choices=("latest", "best"), default="latest")
    s.add_argument("--split", default=None, help="default: the config's data.eval_split")
    s.add_argument("--output", default=None, help="PNG path (default under WORKDIR/eval/)")
  o = sub.choices["overlay"]
  o.add_argument("--num", type=int, default=16, help="how many records (the split's first)")
  o.add_argument("--flip", action=argparse.BooleanOptionalAction, default=None,
                 help="flip test (default: the config's eval.flip)")
  o.add_argument("--dataset", default=None, help="another dataset with the same joints")
  o.add_argument("--data_root", default=None, help="folder of --dataset's raw files")
  o.add_argument("--tile", type=int, default=0, help="tile side in pixels (default: crop size)")
  h = sub.choices["heatmaps"]
  what = h.add_mutually_exclusive_group(required=True)
  what.add_argument("--image", default=None, help="an image file")
  what.add_argument("--index", type=int, default=None, help="record N of --split instead")
  h.add_argument("--center", type=_xy, default=None, help="x,y person centre in image pixels")
  h.add_argument("--scale", type=float, default=None, help="person height / 200 px")
  h.add_argument("--stacks", action="store_true", help="one column per stack (and regression)")
  h.add_argument("--tile", type=int, default=160, help="panel side in pixels")
  h.add_argument("--vmax", type=float, default=0.0, help="fixed colour scale (0: per panel)")
  for name, helptext in (
      ("backtrack", "HMLPE: backtracked patches of conv2/conv3 maps (Li et al. Fig. 6b/6c, 7)"),
      ("filters", "HMLPE: the first-layer filters (Li et al. Fig. 6a)")):
    s = sub.add_parser(name, help=helptext)
    s.add_argument("--workdir", required=True, help="run directory or WORKDIR/checkpoints/STEP")
    s.add_argument("--which", choices=("latest", "best"), default="latest")
    s.add_argument("--out", "--output", dest="output", default=None,
                   help="PNG path (default under WORKDIR/eval/)")
  b = sub.choices["backtrack"]
  b.add_argument("--layer", type=int, default=3, help="conv layer whose maps to backtrack (2 or 3)")
  b.add_argument("--split", default=None, help="default: the config's data.train_split")
  b.add_argument("--num_images", type=int, default=200,
                 help="images the mean patches are taken over (the split's first; 0: all)")
  b.add_argument("--show", type=int, default=8, help="images shown one per row (Fig. 7)")
  b.add_argument("--tile", type=int, default=96, help="cell side in pixels")
  f = sub.choices["filters"]
  f.add_argument("--tile", type=int, default=48, help="cell side in pixels")
  f.add_argument("--cols", type=int, default=0, help="filters per row (0: about √F)")
  return p


COMMANDS = {"overlay": overlay, "heatmaps": heatmaps, "backtrack": backtrack, "filters": filters}


def main(argv: Optional[Sequence[str]] = None) -> int:
  p = parser()
  args = p.parse_args(argv)
  if getattr(args, "num", 1) < 1:
    p.error("--num must be at least 1")
  if getattr(args, "num_images", 0) < 0 or getattr(args, "show", 0) < 0:
    p.error("--num_images and --show must be at least 0")
  if args.command in ("backtrack", "filters") and (args.tile < 8 or getattr(args, "cols", 0) < 0):
    p.error("--tile must be at least 8 and --cols at least 0")
  if args.command == "heatmaps":
    if args.index is None and (args.center is None) != (args.scale is None):
      p.error("give --center and --scale together (or neither: the whole image)")
  try:
    path = COMMANDS[args.command](args)
  except USER_ERRORS + (FileNotFoundError,) as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  print(f"wrote {path}")
  return 0
