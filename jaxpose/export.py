"""Export a trained network for serving, to run where jaxpose and flax are not installed.

  python -m jaxpose.export --workdir=runs/default [--out=DIR] [--which=best] [--flip]
                           [--platforms=cpu,cuda] [--nosaved_model]
  python -m jaxpose.export --pretrained=lsp --out=DIR       # a released model (jaxpose.zoo)
  python -m jaxpose.export --workdir=runs/release_lsp --release=jaxpose/zoo/lsp
      # a trained run as a released-model folder (weights, config, digests; jaxpose.zoo)

Writes into ``--out`` (default ``WORKDIR/export``):

* ``pose.jaxexport`` — ``jax.export`` of the inference function, weights inside:
  ``jax.export.deserialize(bytearray(open(path, "rb").read())).call(crops)`` with nothing but
  jax and numpy. ``crops``: (B, S, S, 3) float32 *normalised* crops, any B (a symbolic batch
  dimension, so one artifact serves every batch size without re-export); returns
  ``{"keypoints": (B, K, 2), "scores": (B, K)[, "visibility": (B, K)]}`` (the library's
  prediction keys; ``load`` reads exports of earlier versions, whose keys were ``joints``,
  ``score``, ``visible``, under these names).
* ``saved_model/`` — the same function as a TF SavedModel (``jax2tf``, native serialization),
  signature ``serving_default``: ``crops`` (B, S, S, 3) **uint8** RGB → the same dict; the
  normalisation ``(rgb / 255 − mean) / std`` is inside, so TF Serving or any TF client sends
  raw pixels. Needs tensorflow at export time only (``--nosaved_model`` skips it).
* ``geometry.json`` — what a client needs to cut the crops and read the outputs without
  jaxpose (``geometry``): input size, mean/std, the crop rule (box → centre/scale, side
  ``200 · scale · scale_pad``, crop ↔ image formulas), heat-map size, joint names, flip pairs,
  limbs, the checkpoint and step.

Why decoded joints and not the raw network outputs: the decode (argmax with the quarter-pixel
shift, the heat-map → crop pixel mapping, the flip-test merge; or the coordinate family's
normalised coordinates) is the part a client would most likely get subtly wrong, and it is
cheap; the exported function ends where ``Predictor.predict_crops`` ends. What is left to the
client is the crop affine, which ``geometry.json`` spells out (and ``jaxpose.crops`` implements
in numpy, matching the training pipeline's resampling). Raw heat maps stay available through
``Predictor.outputs`` for research use.

The network runs in inference mode (BatchNorm with its running statistics, no dropout). The
flip test (``--flip``) is inside the exported function (it doubles the compute); the
multi-scale test is not exported (it needs several crops per person and a merge in heat-map
space: use ``Predictor`` for it). ``--platforms`` lowers for several backends at once
(default ``cpu,cuda``: the artifact and the SavedModel then run on either; lowering for CUDA
needs no GPU).
"""
from __future__ import annotations

import json
import os
from typing import Callable, Optional, Sequence

import numpy as np
from absl import app, flags

from jaxpose import inference, runtime
from jaxpose.codecs import geometry as crop_geometry
from jaxpose.errors import ConfigError, exit_on_user_error

JAX_FILE = "pose.jaxexport"
SAVED_MODEL_DIR = "saved_model"
GEOMETRY_FILE = "geometry.json"
DEFAULT_PLATFORMS = ("cpu", "cuda")
# 2: the outputs are named keypoints / scores / visibility (1: joints / score / visible).
FORMAT_VERSION = 2
_VERSION_1_KEYS = {"joints": "keypoints", "score": "scores", "visible": "visibility"}


def inference_fn(predictor: inference.Predictor) -> Callable:
  """``fn(variables, crops) -> {"keypoints", "scores"[, "visibility"]}``: the network in inference
  mode, the family's final prediction, the flip merge when ``predictor.flip``, the decode
  (crop pixels) — ``Predictor.predict_crops`` as one pure jax function."""
  model, fam, flip = predictor.model, predictor.family, predictor.flip

  def final(variables, images):
    return fam.final(model.apply(variables, images, train=False))

  def fn(variables, images):
    f = final(variables, images)
    if flip:
      f = fam.flip_merge(f, final(variables, images[:, :, ::-1, :]))
    return {k: v for k, v in fam.decode(f).items()}

  return fn


def _check_exportable(predictor: inference.Predictor) -> None:
  if predictor.scales != (1.0,):
    raise ConfigError(f"scales {predictor.scales}: the multi-scale test is not exported (it "
                      "needs several crops per person); export with scales=(1.0,)")


def export_jax(predictor: inference.Predictor,
               platforms: Optional[Sequence[str]] = DEFAULT_PLATFORMS):
  """The ``jax.export.Exported`` of ``inference_fn`` with the weights as constants, for
  (b, S, S, 3) float32 crops with a symbolic batch size b."""
  import jax
  import jax.numpy as jnp
  _check_exportable(predictor)
  fn, variables = inference_fn(predictor), predictor.variables
  size = int(predictor.config.data.image_size)
  b, = jax.export.symbolic_shape("b")
  spec = jax.ShapeDtypeStruct((b, size, size, 3), jnp.float32)
  return jax.export.export(jax.jit(lambda x: fn(variables, x)),
                           platforms=None if platforms is None else tuple(platforms))(spec)


def save_saved_model(predictor: inference.Predictor, path: str,
                     platforms: Optional[Sequence[str]] = DEFAULT_PLATFORMS) -> str:
  """The TF SavedModel of ``inference_fn`` (jax2tf), serving signature on uint8 crops.

  The weights are ``tf.Variable``s of the module (not constants in the graph), the layout
  jax2tf recommends for serving; the jax function is embedded as StableHLO
  (``XlaCallModule``), so loading needs tensorflow only."""
  import tensorflow as tf
  from jax.experimental import jax2tf
  try:
    tf.config.set_visible_devices([], "GPU")  # JAX owns the accelerator
  except RuntimeError:  # tf already initialised by the caller: leave it as it is
    pass
  _check_exportable(predictor)
  size = int(predictor.config.data.image_size)
  fn_tf = jax2tf.convert(
      inference_fn(predictor), polymorphic_shapes=[None, f"(b, {size}, {size}, 3)"],
      with_gradient=False,
      native_serialization_platforms=None if platforms is None else tuple(platforms))
  module = tf.Module()
  module.params = tf.nest.map_structure(lambda a: tf.Variable(a, trainable=False),
                                        predictor.variables)
  mean, std = tf.constant(crop_geometry.MEAN), tf.constant(crop_geometry.STD)

  @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.uint8, name="crops")],
               autograph=False)
  def serve(images):
    # A wrong crop size fails here with the expected shape in the message, not deep in the
    # embedded module's shape refinement.
    images = tf.ensure_shape(images, [None, size, size, 3])
    x = (tf.cast(images, tf.float32) / 255.0 - mean) / std
    return fn_tf(module.params, x)

  module.serve = serve
  tf.saved_model.save(module, path, signatures={"serving_default": serve})
  return path


def geometry(predictor: inference.Predictor, platforms: Sequence[str] = DEFAULT_PLATFORMS) -> dict:
  """The JSON document beside an export: everything a client needs to make inputs and read
  outputs, in plain numbers and words."""
  cfg, fam, sk = predictor.config, predictor.family, predictor.skeleton
  size = int(cfg.data.image_size)
  heatmaps = hasattr(fam, "codec") and hasattr(fam.codec, "heatmap_size")
  outputs = {"keypoints": "(B, K, 2) float32: x, y in crop pixels (pixel centres at integers)",
             "scores": ("(B, K) float32: heat-map peak (<= 0: no detection)" if heatmaps else
                        "(B, K) float32: presence probability (1 where the model has no "
                        "visibility head)")}
  if fam.predicts_visibility:
    outputs["visibility"] = "(B, K) float32: presence probability"
  return {
      "format": "jaxpose-export", "version": FORMAT_VERSION,
      "files": {"jax_export": JAX_FILE, "saved_model": SAVED_MODEL_DIR},
      "family": fam.name, "model": str(cfg.model.name), "config": str(cfg.get("name", "")),
      "dataset": str(cfg.data.name), "checkpoint": predictor.checkpoint_dir,
      "step": int(predictor.step), "flip_test": bool(predictor.flip),
      "platforms": list(platforms or ()),
      "image_size": size,
      "heatmap_size": int(cfg.data.heatmap_size) if heatmaps else None,
      "scale_pad": float(cfg.data.scale_pad),
      "mean": [float(v) for v in crop_geometry.MEAN],
      "std": [float(v) for v in crop_geometry.STD],
      "inputs": {
          "jax_export": {"shape": ["b", size, size, 3], "dtype": "float32",
                         "values": "(rgb / 255 - mean) / std, RGB channel order"},
          "saved_model": {"signature": "serving_default", "name": "crops",
                          "shape": [None, size, size, 3], "dtype": "uint8",
                          "values": "RGB 0-255 (normalised inside)"}},
      "outputs": outputs,
      "crop": {
          "box": "(x1, y1, x2, y2), image spanning [0, W] x [0, H]; whole image (0, 0, W, H)",
          "center": "((x1 + x2) / 2 - 0.5, (y1 + y2) / 2 - 0.5): pixel centres at integers",
          "scale": "max(x2 - x1, y2 - y1) / 200",
          "side": "200 * scale * scale_pad image pixels, square, about center",
          "image_to_crop": "crop = (p - center) * image_size / side + (image_size - 1) / 2",
          "crop_to_image": "p = (crop - (image_size - 1) / 2) * side / image_size + center",
          "resampling": ("bilinear at the image point of each crop pixel centre, 0 outside "
                         "the image; when side / image_size >= 2 the image is first "
                         "box-downsampled by floor(side / image_size) (jaxpose.crops.warp)")},
      "joint_names": list(sk.joints),
      "flip_pairs": [list(p) for p in sk.flip_pairs],
      "limbs": [list(p) for p in sk.limbs],
  }


def export(predictor: inference.Predictor, out: str,
           platforms: Optional[Sequence[str]] = DEFAULT_PLATFORMS,
           saved_model: bool = True) -> dict:
  """Writes ``pose.jaxexport``, ``geometry.json`` and (``saved_model``) ``saved_model/`` into
  ``out``; returns their paths."""
  try:
    os.makedirs(out, exist_ok=True)
  except OSError as e:  # a file in the way, no permission, a read-only file system
    raise ConfigError(f"--out={out}: cannot create the export folder ({e.strerror or e})") from None
  paths = {"jax_export": os.path.join(out, JAX_FILE), "geometry": os.path.join(out, GEOMETRY_FILE)}
  exported = export_jax(predictor, platforms)
  with open(paths["jax_export"], "wb") as f:
    f.write(exported.serialize())
  doc = geometry(predictor, platforms or ())
  if saved_model:
    paths["saved_model"] = save_saved_model(predictor, os.path.join(out, SAVED_MODEL_DIR),
                                            platforms)
  else:
    doc["files"].pop("saved_model")
  with open(paths["geometry"], "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
  return paths


class ExportedPose:
  """A ``pose.jaxexport`` with its ``geometry.json`` (``load``): ``self(crops)`` checks the
  crops against the exported input before calling, with a message that says what to send, and
  returns the prediction under the library's keys (an export of format version 1 answers
  ``joints`` / ``score`` / ``visible``: renamed ``keypoints`` / ``scores`` / ``visibility``)."""

  def __init__(self, exported, geometry_doc: dict):
    self.exported, self.geometry = exported, geometry_doc

  def __call__(self, images) -> dict:
    images = np.asarray(images)
    s = int(self.geometry["image_size"])
    if images.ndim != 4 or images.shape[1:] != (s, s, 3) or images.dtype != np.float32:
      raise ValueError(
          f"crops of shape {images.shape} and dtype {images.dtype}: this export takes "
          f"(B, {s}, {s}, 3) float32 crops normalised as (rgb / 255 - mean) / std "
          f"(geometry.json)")
    rename = _VERSION_1_KEYS if int(self.geometry.get("version", 1)) < 2 else {}
    return {rename.get(k, k): np.asarray(v) for k, v in self.exported.call(images).items()}


def load(out: str) -> ExportedPose:
  """The export in folder ``out`` (jax and numpy only; no flax, no model code)."""
  import jax
  with open(os.path.join(out, GEOMETRY_FILE)) as f:
    doc = json.load(f)
  with open(os.path.join(out, doc["files"]["jax_export"]), "rb") as f:
    return ExportedPose(jax.export.deserialize(bytearray(f.read())), doc)


USAGE = "python -m jaxpose.export (--workdir=DIR | --pretrained=NAME) [flags]"


def flag_values() -> flags.FlagValues:
  """The flags of ``python -m jaxpose.export``, on a ``FlagValues`` of their own
  (``runtime.parse_flags``: nothing is defined on absl's global flags)."""
  fv = flags.FlagValues()
  flags.DEFINE_string("workdir", None, "run directory or WORKDIR/checkpoints/STEP",
                      flag_values=fv)
  flags.DEFINE_string("pretrained", None, "a released model (jaxpose.zoo.names(), e.g. lsp) "
                      "instead of --workdir", flag_values=fv)
  flags.DEFINE_string("release", None, "write --workdir's checkpoint as a released-model folder "
                      "(jaxpose.zoo: variables.msgpack, config.json, manifest.json) instead of "
                      "exporting", flag_values=fv)
  flags.DEFINE_enum("which", None, ["latest", "best"], "which checkpoint of --workdir (default: "
                    "the config's eval.checkpoint)", flag_values=fv)
  flags.DEFINE_string("out", None, "output folder (default: WORKDIR/export)", flag_values=fv)
  flags.DEFINE_boolean("flip", False, "put the flip test inside the exported function",
                       flag_values=fv)
  flags.DEFINE_string("platforms", ",".join(DEFAULT_PLATFORMS), "comma-separated backends to "
                      "lower for (cpu, cuda, rocm, tpu)", flag_values=fv)
  flags.DEFINE_boolean("saved_model", True, "also write the TF SavedModel (needs tensorflow)",
                       flag_values=fv)
  return fv


def _args(argv: Optional[Sequence[str]]):
  """The flags of ``argv``; a bad or missing one raises ``app.UsageError``."""
  args, rest = runtime.parse_flags(flag_values(), argv, USAGE, __doc__)
  if rest:
    raise app.UsageError(f"unexpected argument {rest[0]!r} (every input is a --flag)")
  if (args.workdir is None) == (args.pretrained is None):
    raise app.UsageError("give --workdir=DIR or --pretrained=NAME" + (
        ", not both" if args.workdir is not None else ""))
  return args


@exit_on_user_error
def main(argv: Optional[Sequence[str]] = None) -> int:
  args = _args(argv)
  platforms = tuple(p.strip().lower() for p in args.platforms.split(",") if p.strip())
  if not platforms:
    raise ConfigError("--platforms is empty; give e.g. --platforms=cpu,cuda")
  if args.pretrained:
    if args.which or args.release:
      raise ConfigError("--which and --release need --workdir, not --pretrained")
    predictor = inference.Predictor.pretrained(args.pretrained, flip=args.flip, scales=(1.0,))
    out = args.out or os.path.join("export", args.pretrained)
  else:
    which = args.which or inference.default_which(args.workdir)
    if args.release:
      return _release(args.workdir, which, args.release)
    predictor = inference.Predictor.from_checkpoint(args.workdir, which, flip=args.flip,
                                                    scales=(1.0,))
    workdir = os.path.dirname(os.path.dirname(predictor.checkpoint_dir))
    out = args.out or os.path.join(workdir, "export")
  paths = export(predictor, out, platforms, saved_model=args.saved_model)
  for path in paths.values():
    print(f"wrote {path}")
  return 0


def _release(workdir: str, which: str, out: str) -> int:
  """``--release``: the checkpoint's parameters and BatchNorm statistics with its config and
  per-array digests as a ``jaxpose.zoo`` folder, loaded back and checked before it is reported."""
  from jaxpose import zoo
  config, variables, step, workdir = inference.restore(workdir, which)
  zoo.save(out, config, variables, step,
           source=os.path.join(os.path.abspath(workdir), "checkpoints", str(step)))
  zoo.load(out)
  size = os.path.getsize(os.path.join(out, "variables.msgpack"))
  print(f"wrote {out} (step {step}, variables.msgpack {size / 2**20:.1f} MiB)")
  return 0


if __name__ == "__main__":
  runtime.run_cli(main)
