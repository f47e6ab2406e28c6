"""Pose on your own images: one JSON and one PNG overlay per image.

  python -m jaxpose.predict photo.jpg                  # the released LSP model (jaxpose/zoo/lsp)
  python -m jaxpose.predict photo.jpg --workdir=runs/default
  python -m jaxpose.predict shots/ more.png --workdir=DIR --which=best --flip --out=poses/
  python -m jaxpose.predict photo.jpg --workdir=DIR --box=120,40,380,620
  python -m jaxpose.predict shots/ --workdir=DIR --boxes=boxes.json

INPUT is an image file or a folder (its image files by suffix; ``--recursive`` descends). One
person per image, inside ``--box`` (``x1,y1,x2,y2`` in the image's pixels, the image spanning
``[0, W] × [0, H]``; applied to every input), a ``--boxes`` JSON file (``{"name": [x1, y1, x2,
y2], …}``, keyed by the path as given, the path inside a folder input, or the file name; null
= the whole image), or by default the whole image. The crop is the training geometry
(``crops.box_to_center_scale``: the box's larger side × ``data.scale_pad``, square).

For every image ``OUT/<name>.json`` (close to mmpose's ``pred_out_dir`` files)::

  {"image": PATH, "image_size": [W, H], "keypoints": [[x, y, score], …], "joint_names": […],
   ["visibility": […],] "box": [x1, y1, x2, y2], "center": [x, y], "scale": s,
   "checkpoint": DIR/checkpoints/STEP, "step": N, "flip": bool}

(x, y in the image's pixels, pixel centres at integers) and ``OUT/<name>.png``, the skeleton
drawn on the image (``visualize.draw_skeleton``; joints with score ≤ ``--threshold`` left
out). ``OUT`` defaults to ``WORKDIR/predictions`` (``./predictions`` for a released model); a
folder input keeps its subfolders.

Without ``--workdir`` the released model ``--pretrained`` (default ``lsp``: 14 LSP joints, one
roughly centred person, sports poses; its card is ``jaxpose/zoo/lsp/MODEL_CARD.md``) predicts,
with the flip test, and one line says so.

An image that cannot be read is reported by name and skipped; the others are still
processed and the exit status is 1 at the end. Errors that stop everything (no checkpoint, a
missing input, a bad box file) are one line, exit status 2. Nothing here imports tensorflow.
"""
from __future__ import annotations

import json
import os
import sys
from typing import Optional, Sequence

import numpy as np
from absl import app, flags

from jaxpose import crops, inference, runtime, visualize
from jaxpose.errors import ConfigError, DataError, exit_on_user_error

DEFAULT_PRETRAINED = "lsp"


USAGE = "python -m jaxpose.predict [flags] INPUT [INPUT ...]"


def flag_values() -> flags.FlagValues:
  """The flags of ``python -m jaxpose.predict``, on a ``FlagValues`` of their own
  (``runtime.parse_flags``: nothing is defined on absl's global flags)."""
  fv = flags.FlagValues()
  flags.DEFINE_string("workdir", None, "run directory or WORKDIR/checkpoints/STEP (default: a "
                      "released model)", flag_values=fv)
  flags.DEFINE_string("pretrained", None, "a released model (jaxpose.zoo.names(); the default "
                      f"without --workdir: {DEFAULT_PRETRAINED})", flag_values=fv)
  flags.DEFINE_enum("which", None, ["latest", "best"], "which checkpoint of --workdir (default: "
                    "the config's eval.checkpoint)", flag_values=fv)
  runtime.define_floats("box", "x1,y1,x2,y2", "x1,y1,x2,y2 of the person", flag_values=fv)
  flags.DEFINE_string("boxes", None, "JSON file: image name -> [x1, y1, x2, y2]", flag_values=fv)
  flags.DEFINE_boolean("flip", None, "flip test (default: the config's eval.flip)",
                       flag_values=fv)
  flags.DEFINE_string("out", None, "output folder (default: WORKDIR/predictions)", flag_values=fv)
  flags.DEFINE_integer("batch_size", None, "crops per network call (default: the config's "
                       "eval.batch_size, at most the number of images)", lower_bound=1,
                       flag_values=fv)
  flags.DEFINE_float("threshold", 0.0, "draw joints whose score is above this", flag_values=fv)
  flags.DEFINE_boolean("overlay", True, "write the PNG overlays", flag_values=fv)
  flags.DEFINE_boolean("recursive", False, "descend into subfolders", flag_values=fv)
  return fv


def _args(argv: Optional[Sequence[str]]):
  """The flags and the inputs of ``argv``; a bad or missing one raises ``app.UsageError``."""
  args, inputs = runtime.parse_flags(flag_values(), argv, USAGE, __doc__)
  if not inputs:
    raise app.UsageError("give one or more images or folders (INPUT), e.g. "
                         "python -m jaxpose.predict photo.jpg")
  for a, b in (("workdir", "pretrained"), ("box", "boxes")):
    if getattr(args, a) is not None and getattr(args, b) is not None:
      raise app.UsageError(f"give --{a} or --{b}, not both")
  args.inputs = inputs
  return args


def _names(inputs: Sequence[str], recursive: bool) -> list[tuple[str, str]]:
  """(path, output name without suffix) per image; a folder's images keep their path inside
  it, so that equal file names in two subfolders do not overwrite each other."""
  out, used = [], set()
  for given in inputs:
    for path in crops.list_images([given], recursive):
      rel = os.path.relpath(path, given) if os.path.isdir(given) else os.path.basename(path)
      name = base = os.path.splitext(rel)[0]
      i = 2
      while name in used:  # same name from two inputs: a.jpg and other/a.jpg
        name, i = f"{base}_{i}", i + 1
      used.add(name)
      out.append((path, name))
  return out


def _read_boxes(path: str, images: list[tuple[str, str]]) -> list:
  """One box (or None) per image from a ``--boxes`` file; every image must have an entry."""
  try:
    with open(path) as f:
      doc = json.load(f)
  except (OSError, ValueError) as e:
    raise DataError(f"--boxes={path}: cannot read it as JSON ({e})") from None
  if not isinstance(doc, dict):
    raise DataError(f"--boxes={path}: expected an object {{image name: [x1, y1, x2, y2]}}")
  boxes, missing = [], []
  for image, name in images:
    keys = [image, os.path.normpath(image), name + os.path.splitext(image)[1],
            os.path.basename(image)]
    key = next((k for k in keys if k in doc), None)
    if key is None:
      missing.append(image)
      continue
    box = doc[key]
    if box is not None:
      try:
        box = [float(v) for v in box]
        crops.box_to_center_scale(box)
      except (TypeError, ValueError) as e:
        raise DataError(f"--boxes={path}: entry {key!r}: {e}") from None
    boxes.append(box)
  if missing:
    more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
    raise DataError(f"--boxes={path} has no box for {', '.join(missing[:3])}{more} (give null "
                    "for the whole image)")
  return boxes


def _f(v) -> float:
  """A float32 as the shortest decimal that reads back to it (no 17-digit noise)."""
  return float(str(np.float32(v)))


def result_doc(pred: dict, i: int, image_path: str, image_shape, predictor) -> dict:
  """The JSON document of image ``i`` of a ``predict_batch`` result."""
  kp = np.concatenate([pred["keypoints"][i], pred["scores"][i][:, None]], axis=1)
  doc = {"image": image_path, "image_size": [int(image_shape[1]), int(image_shape[0])],
         "keypoints": [[_f(v) for v in row] for row in kp],
         "joint_names": list(pred["joint_names"])}
  if "visibility" in pred:
    doc["visibility"] = [_f(v) for v in pred["visibility"][i]]
  doc.update(box=[float(v) for v in pred["box"][i]],
             center=[_f(v) for v in pred["center"][i]], scale=_f(pred["scale"][i]),
             checkpoint=predictor.checkpoint_dir, step=int(predictor.step),
             flip=bool(predictor.flip))
  return doc


def dumps(doc: dict) -> str:
  """One key per line, each value on its line: readable, and diffable image by image."""
  return "{\n" + ",\n".join(f" {json.dumps(k)}: {json.dumps(v)}" for k, v in doc.items()) + "\n}\n"


def _overlay(image: np.ndarray, pred: dict, i: int, predictor, threshold: float,
             box_given: bool) -> np.ndarray:
  from PIL import Image, ImageDraw
  drawn = visualize.draw_skeleton(image, pred["keypoints"][i], predictor.skeleton,
                                  pred["scores"][i] > threshold)
  if not box_given:
    return drawn
  out = Image.fromarray(drawn)
  x1, y1, x2, y2 = (float(v) for v in pred["box"][i])
  ImageDraw.Draw(out).rectangle([x1, y1, x2 - 1, y2 - 1], outline=(255, 255, 255), width=1)
  return np.asarray(out)


@exit_on_user_error
def main(argv: Optional[Sequence[str]] = None) -> int:
  args = _args(argv)
  images = _names(args.inputs, args.recursive)
  if not images:
    raise DataError(f"no image files in {', '.join(args.inputs)}")
  if args.box is not None:
    try:
      crops.box_to_center_scale(args.box)
    except ValueError as e:
      raise ConfigError(f"--box: {e}") from None
    boxes = [args.box] * len(images)
  elif args.boxes:
    boxes = _read_boxes(args.boxes, images)
  else:
    boxes = [None] * len(images)

  if args.workdir:
    which = args.which or inference.default_which(args.workdir)
    predictor = inference.Predictor.from_checkpoint(args.workdir, which)
    if args.flip or (args.flip is None and predictor.config.eval.flip):
      predictor = _with_flip(predictor)
    workdir = os.path.dirname(os.path.dirname(predictor.checkpoint_dir))
  else:
    if args.which:
      raise app.UsageError("--which picks a checkpoint of --workdir")
    name = args.pretrained or DEFAULT_PRETRAINED
    predictor = inference.Predictor.pretrained(name, flip=args.flip)  # None: its eval.flip
    print(f"using the released model {name!r} ({predictor.checkpoint_dir}); "
          "--workdir=DIR predicts with a model of your own", flush=True)
    workdir = ""
  out_dir = args.out or os.path.join(workdir, "predictions")
  bs = int(args.batch_size or min(len(images), int(predictor.config.eval.batch_size)))

  from tqdm import tqdm
  failed = []
  bar = tqdm(total=len(images), unit="image", desc="predict")
  for start in range(0, len(images), bs):
    chunk = []
    for (path, name), box in zip(images[start:start + bs], boxes[start:start + bs]):
      try:
        image = crops.read_image(path)
      except DataError as e:
        failed.append(path)
        tqdm.write(f"error: {e}; skipped", file=sys.stderr)
        bar.update(1)
        continue
      if box is not None:
        try:
          crops.check_overlap(box, *image.shape[:2])
        except ValueError as e:
          bar.close()
          raise ConfigError(f"{'--box' if args.box is not None else '--boxes'} for {path}: "
                            f"{e}") from None
      chunk.append((path, name, box, image))
    if not chunk:
      continue
    pred = predictor.predict_batch([c[3] for c in chunk], [c[2] for c in chunk], batch_size=bs)
    for i, (path, name, box, image) in enumerate(chunk):
      stem = os.path.join(out_dir, name)
      os.makedirs(os.path.dirname(stem), exist_ok=True)
      with open(stem + ".json", "w") as f:
        f.write(dumps(result_doc(pred, i, path, image.shape, predictor)))
      if args.overlay:
        visualize.save_png(_overlay(image, pred, i, predictor, args.threshold, box is not None),
                           stem + ".png")
      bar.update(1)
  bar.close()
  done = len(images) - len(failed)
  print(f"wrote {done} prediction{'s' if done != 1 else ''} to {out_dir}")
  if failed:
    print(f"error: {len(failed)} of {len(images)} images could not be read: "
          f"{', '.join(failed)}", file=sys.stderr)
    return 1
  return 0


def _with_flip(predictor: inference.Predictor) -> inference.Predictor:
  """The same network with the flip test on (the checkpoint is not read again)."""
  out = inference.Predictor(predictor.config, predictor.variables, predictor.step, flip=True,
                            scales=predictor.scales)
  out.checkpoint_dir = predictor.checkpoint_dir
  return out


if __name__ == "__main__":
  runtime.run_cli(main)
