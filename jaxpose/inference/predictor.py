"""``Predictor``: a restored network run data-parallel on the local devices, on pipeline batches
and on a user's own images (numpy crops, no tensorflow)."""
from __future__ import annotations

import os
from typing import Optional

import jax
import numpy as np

from jaxpose import crops, families, models
from jaxpose.codecs import geometry
from jaxpose.codecs import heatmap as heatmap_codec
from jaxpose.inference.restoring import restore, with_data

PYRAMID_SCALES = heatmap_codec.PYRAMID_SCALES


def parse_scales(text: str) -> tuple:
  """``"0.8,0.9,1.0"`` → ``(0.8, 0.9, 1.0)``; ``ValueError`` with the offending value."""
  items = [t.strip() for t in str(text).split(",")]
  if not any(items):
    raise ValueError(f"--scales={text!r} is empty; give comma-separated factors > 0, "
                     f"e.g. --scales={','.join(map(str, PYRAMID_SCALES))}")
  if not all(items):
    raise ValueError(f"--scales={text!r} has an empty entry")
  return heatmap_codec.check_scales(items)


def _numpy(tree) -> dict:
  return {k: np.asarray(v) for k, v in tree.items()}


class Predictor:
  """A model with its variables, run data-parallel on every local device.

  ``scales=None`` takes the config's ``eval.scales``; other scales are written into a copy
  of the config, so that the evaluation pipeline cuts the matching crops. ``subpixel`` (None =
  the config's ``eval.subpixel``) chooses a heat-map family's sub-pixel step the same way.
  """

  def __init__(self, config, variables, step: int = 0, flip: bool = False,
               scales: Optional[tuple] = None, subpixel: Optional[str] = None):
    own = heatmap_codec.check_scales(config.eval.scales)
    self.scales = own if scales is None else heatmap_codec.check_scales(scales)
    if self.scales != own or (subpixel and subpixel != config.eval.subpixel):
      config = config.copy_and_resolve_references()
      config.eval.scales = self.scales
      config.eval.subpixel = subpixel or config.eval.subpixel
    self.config = config
    self.flip = bool(flip)
    self.family = fam = families.get(config)
    fam.check(config)
    self.model = model = models.create(config.model)
    self.skeleton = fam.skeleton

    def forward(variables, images):
      return model.apply(variables, images, train=False)

    def final(variables, images):
      f = fam.final(forward(variables, images))
      if self.flip:
        f = fam.flip_merge(f, fam.final(forward(variables, images[:, :, ::-1, :])))
      return f

    # Every local device, data-parallel: the batch is split along a one-axis mesh of this
    # process's devices and the variables replicated on it (jit with shardings, the pmap
    # migration guide's replacement for pmap + device_put_replicated). A local mesh keeps
    # this valid under jax.distributed too: each process predicts on its own devices.
    devices = jax.local_devices()
    self.n_dev = len(devices)
    mesh = jax.sharding.Mesh(np.array(devices), ("batch",))
    self._replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    self._split = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("batch"))
    shard = dict(in_shardings=(self._replicated, self._split), out_shardings=self._split)
    self._outputs = jax.jit(forward, **shard)
    self._final = jax.jit(final, **shard)
    self._decode = jax.jit(fam.decode)
    self._merge = jax.jit(lambda *finals: fam.scale_merge(finals, self.scales))
    self.update(variables, step)

  def eval_inputs(self) -> tuple:
    """What an evaluation batch must carry besides the crop (the family's ``eval_inputs``)."""
    return tuple(self.family.eval_inputs())

  def update(self, variables, step: int) -> None:
    """New weights for the same network (no recompilation)."""
    self.variables, self.step = variables, int(step)
    self._on_devices = jax.device_put(variables, self._replicated)

  def _run(self, fn, images: np.ndarray) -> dict:
    """``fn(variables, images)`` over the local devices; a batch that does not split over
    them is padded with copies of its last image (dropped from the result)."""
    images = np.asarray(images, np.float32)
    b = images.shape[0]
    pad = -b % self.n_dev
    if pad:
      images = np.concatenate([images, np.repeat(images[-1:], pad, axis=0)])
    out = fn(self._on_devices, jax.device_put(images, self._split))
    return jax.tree_util.tree_map(lambda x: np.asarray(x)[:b], out)

  def outputs(self, images: np.ndarray) -> dict:
    """Every output of the network (not only the final prediction) as numpy, no flip."""
    return self._run(self._outputs, images)

  def final(self, images: np.ndarray) -> dict:
    """The family's final prediction arrays of (B, H, W, 3) crops (flip-merged if asked)."""
    return self._run(self._final, images)

  def predict_crops(self, images: np.ndarray) -> dict:
    """The family's decoded prediction: ``{"keypoints": (B, K, 2) crop pixels, "scores": (B, K)
    [, "visibility": (B, K)]}`` and the family's own keys."""
    return _numpy(self._decode(self.final(images)))

  def predict(self, batch: dict) -> dict:
    """Predictions for an evaluation batch, joints in image pixels (through ``affine``).

    Multi-scale (``self.scales != (1.0,)``) reads the batch's ``image_scales``.
    """
    if self.scales == (1.0,):
      final = self.final(batch["image"])
    elif "image_scales" not in batch:
      raise ValueError(f"scales {self.scales} need the batch key image_scales (built by "
                       "pipeline.eval_batches when config.eval.scales has those scales)")
    else:
      image_scales = batch["image_scales"]
      if image_scales.ndim != 5 or image_scales.shape[1] != len(self.scales):
        raise ValueError(f"image_scales of shape {image_scales.shape}: expected (B, "
                         f"{len(self.scales)}, H, W, 3) for scales {self.scales}")
      finals = [self.final(image_scales[:, i]) for i in range(len(self.scales))]
      final = self._merge(*finals)
    out = _numpy(self._decode(final))
    out["keypoints"] = np.asarray(geometry.to_image(out["keypoints"], batch["affine"]),
                                  np.float32)
    return out

  # ---------------------------------------------------------- a user's own images (#19)
  # The checkpoint directory this predictor was restored from (``from_checkpoint``), or None.
  checkpoint_dir: Optional[str] = None

  @classmethod
  def from_checkpoint(cls, path: str, which: str = "latest", flip: bool = False,
                      scales: Optional[tuple] = None, data_overrides: Optional[dict] = None,
                      subpixel: Optional[str] = None) -> "Predictor":
    """The predictor of a workdir (its ``which`` = latest or best checkpoint) or of one
    ``WORKDIR/checkpoints/STEP`` directory: ``load`` as a constructor, remembering the
    checkpoint directory in ``self.checkpoint_dir`` (the CLI writes it into every result)."""
    config, variables, step, workdir = restore(path, which, data_overrides=data_overrides)
    out = cls(config, variables, step=step, flip=flip, scales=scales, subpixel=subpixel)
    out.checkpoint_dir = os.path.join(workdir, "checkpoints", str(step))
    return out

  @classmethod
  def pretrained(cls, name: str = "lsp", flip: Optional[bool] = None,
                 scales: Optional[tuple] = None, data_overrides: Optional[dict] = None,
                 subpixel: Optional[str] = None) -> "Predictor":
    """The predictor of a released model that ships with jaxpose (``jaxpose.zoo``; ``"lsp"``:
    14 LSP joints, sports poses, see its model card), or of a folder laid out the same way.
    Needs no workdir, no dataset and no tensorflow; every array is checked against its digest.
    ``flip`` None = the released config's ``eval.flip``; ``data_overrides`` (evaluation on
    another dataset of the same joints) as ``Predictor.from_checkpoint``."""
    from jaxpose import zoo
    config, variables, manifest = zoo.load(name)
    if data_overrides:
      config = with_data(config, data_overrides, zoo.folder(name))
    flip = bool(config.eval.flip) if flip is None else bool(flip)
    out = cls(config, variables, step=int(manifest["step"]), flip=flip, scales=scales,
              subpixel=subpixel)
    out.checkpoint_dir = zoo.folder(name)
    return out

  def predict_image(self, image, box=None) -> dict:
    """The pose of one person in one image.

    Args:
      image: an (H, W, 3) uint8 RGB array, or a path / encoded bytes (decoded by Pillow).
      box: ``(x1, y1, x2, y2)`` around the person in the image's pixels, detector (edge)
        convention — the whole image is ``(0, 0, W, H)``, the default. The crop is the
        training geometry: a square of side ``larger box side × data.scale_pad`` about the
        box centre (``crops.box_to_center_scale``).

    Returns:
      ``keypoints`` (K, 2) x, y in the image's pixels (pixel centres at integers), ``scores``
      (K,) (the heat-map peak, or the presence probability of coordinate families),
      ``visibility`` (K,) when the family predicts presence, ``joint_names``, and the
      ``box``, ``center`` and ``scale`` used.
    """
    out = self.predict_batch([image], None if box is None else [box], batch_size=1)
    return {k: v if k == "joint_names" else v[0] for k, v in out.items()}

  def predict_batch(self, images, boxes=None, *, center=None, scale=None,
                    batch_size: Optional[int] = None) -> dict:
    """``predict_image`` on many images, ``batch_size`` crops per network call.

    Every call of the network has the same batch shape (the last batch is padded with
    copies of its last crop), so it compiles once per ``batch_size``; default the config's
    ``eval.batch_size``, or fewer when there are fewer images, rounded up to a multiple of
    the local devices (the batch is split over all of them).

    ``boxes``: one box (or None = the whole image) per image. Instead of boxes, ``center``
    (N, 2) and ``scale`` (N,) give the dataset records' own crop geometry (centre in pixel
    coordinates, scale = person size / 200): with a record's values and its decoded image the
    crop is exactly the evaluation pipeline's (``crops`` reproduces its resampling), so the
    predictions are ``predict_split``'s — bit for bit when the batches hold the same records
    (XLA's CPU convolutions can change in the last float bit with the batch's other crops).
    The multi-scale test (``self.scales``) and the flip test apply as in ``predict``.

    Returns a dict of arrays with a leading image axis: ``keypoints`` (N, K, 2), ``scores``
    (N, K), ``visibility`` (N, K) when the family predicts it, any keys of the family's own
    (its ``prediction_keys()``), ``box`` (N, 4), ``center`` (N, 2), ``scale`` (N,); and
    ``joint_names`` (K names).
    """
    images = list(images)
    n = len(images)
    if not n:
      raise ValueError("predict_batch: no images")
    if (center is None) != (scale is None):
      raise ValueError("give center and scale together")
    if center is not None and boxes is not None:
      raise ValueError("give boxes or center/scale, not both")
    if boxes is not None and len(boxes) != n:
      raise ValueError(f"{len(boxes)} boxes for {n} images")
    if center is not None:
      center = np.asarray(center, np.float32).reshape(n, 2)
      scale = np.asarray(scale, np.float32).reshape(n)
    cfg = self.config
    size = int(cfg.data.image_size)
    pad = float(cfg.data.scale_pad)
    bs = int(batch_size or min(n, int(cfg.eval.batch_size)))
    bs = -(-bs // self.n_dev) * self.n_dev
    multiscale = self.scales != (1.0,)
    rows: dict = {}
    for start in range(0, n, bs):
      batch = {"image": [], "affine": [], "image_scales": []}
      for i in range(start, min(start + bs, n)):
        image = crops.read_image(images[i])
        if center is not None:
          c, s = center[i], float(scale[i])
          box = crops.center_scale_to_box(c, s)
        else:
          box = crops.optional_box(None if boxes is None else boxes[i], *image.shape[:2])
          c, s = crops.box_to_center_scale(box)
        crop, affine = crops.crop(image, c, s, size, pad)
        batch["image"].append(crops.normalise(crop))
        batch["affine"].append(affine)
        if multiscale:
          batch["image_scales"].append(crops.normalise(
              crops.scale_crops(image, c, s, size, self.scales, pad)))
        for k, v in (("box", box), ("center", c), ("scale", s)):
          rows.setdefault(k, []).append(np.asarray(v))
      m = len(batch["image"])
      batch = {k: np.stack(v + v[-1:] * (bs - m)) for k, v in batch.items() if v}
      pred = self.predict(batch)
      for k, v in pred.items():
        rows.setdefault(k, []).append(np.asarray(v[:m]))
    out = {k: np.concatenate(v) for k, v in rows.items() if k not in ("box", "center", "scale")}
    out["box"] = np.stack(rows["box"]).astype(np.float64)
    out["center"] = np.stack(rows["center"]).astype(np.float32)
    out["scale"] = np.asarray(rows["scale"], np.float32)
    out["joint_names"] = tuple(self.skeleton.joints)
    return out
