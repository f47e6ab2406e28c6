"""``python -m jaxpose.visualize overlay | heatmaps | backtrack | filters`` (the commands are
described in ``jaxpose.visualize``)."""
from __future__ import annotations

import functools
import math
import os
import sys
from typing import Optional, Sequence

import numpy as np
from absl import app, flags
from PIL import Image

from jaxpose import runtime
from jaxpose.errors import USER_ERRORS, ConfigError, DataError, exit_on_user_error
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
    for e, p, ok in zip(chunk, pred["keypoints"], pred["scores"] > 0):
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
    crop, _ = crop_image(image, center, scale, size, float(cfg.data.scale_pad))
    x, stem = normalise(crop), os.path.splitext(os.path.basename(args.image))[0]
  columns = predictor.family.heatmap_panels(predictor.outputs(x[None]), 0, args.stacks)
  if not columns:
    raise ConfigError(f"model {cfg.model.name!r} ({predictor.family.name} family) makes no heat "
                      "maps; draw its predictions with `overlay`")
  fig = heatmap_figure(display(x), columns, predictor.skeleton, args.tile, args.vmax or None,
                       gt=gt, gt_valid=gt_valid)
  return save_png(fig, args.output or os.path.join(workdir, "eval", f"heatmaps_{stem}.png"))


def _hmlpe(args):
  """(Predictor, workdir) of ``--workdir``, refused unless the network describes its layers
  (``layers``, ``feature_maps``, ``first_layer_filters``: HMLPE's, Li et al. 2014 §5)."""
  predictor, workdir = _load(args)
  model, name = predictor.model, predictor.config.model.name
  if not all(callable(getattr(model, m, None))
             for m in ("layers", "feature_maps", "first_layer_filters")):
    raise ConfigError(f"model.name={name!r} is not hmlpe: `{args.command}` shows the features of "
                      "networks that list their layers, as the HMLPE network does (Li et al. "
                      "2014 §5); other models have `overlay` and `heatmaps`")
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


USAGE = "python -m jaxpose.visualize COMMAND [flags]"
COMMAND_HELP = {
    "overlay": "predicted and true skeletons on evaluation crops",
    "heatmaps": "per-joint heat maps before/after refinement (Ke Fig. 3)",
    "backtrack": "HMLPE: backtracked patches of conv2/conv3 maps (Li et al. Fig. 6b/6c, 7)",
    "filters": "HMLPE: the first-layer filters (Li et al. Fig. 6a)"}


def flag_values(command: str) -> flags.FlagValues:
  """The flags of ``python -m jaxpose.visualize COMMAND``, on a ``FlagValues`` of their own
  (``runtime.parse_flags``: nothing is defined on absl's global flags)."""
  fv = flags.FlagValues()
  string = functools.partial(flags.DEFINE_string, flag_values=fv)
  integer = functools.partial(flags.DEFINE_integer, flag_values=fv)
  real = functools.partial(flags.DEFINE_float, flag_values=fv)
  boolean = functools.partial(flags.DEFINE_boolean, flag_values=fv)
  string("workdir", None, "run directory or WORKDIR/checkpoints/STEP")
  flags.DEFINE_enum("which", "latest", ["latest", "best"], "which checkpoint of --workdir",
                    flag_values=fv)
  if command in ("overlay", "heatmaps"):
    string("split", None, "default: the config's data.eval_split")
    string("output", None, "PNG path (default under WORKDIR/eval/)")
  if command == "overlay":
    integer("num", 16, "how many records (the split's first)", lower_bound=1)
    boolean("flip", None, "flip test (default: the config's eval.flip)")
    string("dataset", None, "another dataset with the same joints")
    string("data_root", None, "folder of --dataset's raw files")
    integer("tile", 0, "tile side in pixels (default: crop size)")
  elif command == "heatmaps":
    string("image", None, "an image file")
    integer("index", None, "record N of --split instead")
    runtime.define_floats("center", "x,y", "x,y person centre in image pixels", flag_values=fv)
    real("scale", None, "person height / 200 px")
    boolean("stacks", False, "one column per stack (and regression)")
    integer("tile", 160, "panel side in pixels")
    real("vmax", 0.0, "fixed colour scale (0: per panel)")
  elif command in ("backtrack", "filters"):
    string("output", None, "PNG path (default under WORKDIR/eval/)")
    flags.DEFINE_alias("out", "output", flag_values=fv)
    if command == "backtrack":
      integer("layer", 3, "conv layer whose maps to backtrack (2 or 3)")
      string("split", None, "default: the config's data.train_split")
      integer("num_images", 200, "images the mean patches are taken over (the split's first; "
              "0: all)", lower_bound=0)
      integer("show", 8, "images shown one per row (Fig. 7)", lower_bound=0)
      integer("tile", 96, "cell side in pixels", lower_bound=8)
    else:
      integer("tile", 48, "cell side in pixels", lower_bound=8)
      integer("cols", 0, "filters per row (0: about √F)", lower_bound=0)
  else:
    raise KeyError(f"no command {command!r} (commands: {', '.join(COMMAND_HELP)})")
  return fv


def _usage() -> str:
  doc = sys.modules["jaxpose.visualize"].__doc__
  commands = "\n".join(f"  {c}: {h}" for c, h in COMMAND_HELP.items())
  return (f"usage: {USAGE}\n\n{doc.strip()}\n\ncommands:\n{commands}\n\n"
          "python -m jaxpose.visualize COMMAND --help lists the flags of COMMAND.")


def _defines(fv: flags.FlagValues, name: str) -> bool:
  """Whether ``--name`` is a flag of ``fv`` (``noNAME`` / ``no-NAME`` of a boolean too)."""
  base = name[2:].lstrip("-") if name.startswith("no") else ""
  return name in fv or (base in fv and fv[base].boolean)


@exit_on_user_error
def _args(argv: Optional[Sequence[str]]):
  """(command, its flags) of ``argv``, the command first; a bad or missing one raises
  ``app.UsageError``, and so does a flag of another command (flags are per command)."""
  argv = list(sys.argv[1:] if argv is None else argv)
  command = argv[0] if argv else None
  if command not in COMMAND_HELP:
    if command in runtime.HELP_ARGS:
      print(_usage())
      sys.exit(0)
    got = f" (got {command!r})" if command else ""
    raise app.UsageError(f"give a command first: {' | '.join(COMMAND_HELP)}{got}, e.g. "
                         "python -m jaxpose.visualize overlay --workdir=DIR")
  fv = flag_values(command)
  for a in argv[1:argv.index("--") if "--" in argv else len(argv)]:
    name = a.lstrip("-").split("=")[0]
    if not a.startswith("-") or a in runtime.HELP_ARGS or _defines(fv, name):
      continue
    others = [c for c in COMMAND_HELP if c != command and _defines(flag_values(c), name)]
    if others:
      raise app.UsageError(f"--{name} is a flag of {' and '.join(others)}, not of {command}")
  args, rest = runtime.parse_flags(fv, argv[1:], f"python -m jaxpose.visualize {command} [flags]",
                                   f"{command}: {COMMAND_HELP[command]} (python -m "
                                   "jaxpose.visualize --help describes every command)")
  if rest:
    raise app.UsageError(f"unexpected argument {rest[0]!r} (one command, then --flags)")
  if not args.workdir:
    raise app.UsageError(f"{command} needs --workdir=DIR (a run directory or "
                         "WORKDIR/checkpoints/STEP)")
  if command == "heatmaps":
    if (args.image is None) == (args.index is None):
      raise app.UsageError("heatmaps draws one person: give --image=PATH or --index=N" + (
          ", not both" if args.image is not None else ""))
    if args.index is None and (args.center is None) != (args.scale is None):
      raise app.UsageError("give --center and --scale together (or neither: the whole image)")
  args.command = command
  return command, args


COMMANDS = {"overlay": overlay, "heatmaps": heatmaps, "backtrack": backtrack, "filters": filters}


def main(argv: Optional[Sequence[str]] = None) -> int:
  """``python -m jaxpose.visualize COMMAND --flags`` (``argv``: the arguments after the program
  name); a bad flag ends the process with one line ``error: …`` (exit status 2), an error of the
  command is that line and the return value 2."""
  command, args = _args(argv)
  try:
    path = COMMANDS[command](args)
  except USER_ERRORS + (FileNotFoundError,) as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  print(f"wrote {path}")
  return 0
