"""Restore a trained network and predict joints: on batches, on whole splits, on one image.

``load(path)`` accepts a workdir (latest or best checkpoint) or one checkpoint step
directory and needs nothing else: the config is stored in the checkpoint.

Test-time options (Tang & Wu 2019 §4.2, after Yang et al. 2017): ``flip`` averages each
crop's heat maps with the flipped-back maps of its mirror image; ``scales`` (default the
config's ``eval.scales``; ``(1.0,)`` = the plain crop) is the image pyramid: the eval
pipeline cuts one crop per scale with the box side × s (``augment.scale_crops``), the
network runs on each (flip-merged when asked), ``heatmap.merge_scales`` resamples every
scale's maps exactly into the scale-1 crop's heat-map frame and averages them there, and
the usual decode → crop → image path follows with the scale-1 ``affine``. The six scales
of the paper are ``heatmap.PYRAMID_SCALES`` (0.8 … 1.3, from Yang et al.'s code).
"""
from __future__ import annotations

import os
from typing import Optional

import jax
import ml_collections
import numpy as np

from jaxpose import models
from jaxpose.data import datasets
from jaxpose.codecs import heatmap as heatmap_codec
from jaxpose.training import checkpoint, optim
from jaxpose.training import state as state_lib
from jaxpose.training.step import make_predict


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


class Predictor:
  """A model with its variables; ``heatmaps(images)`` runs it on every local device.

  ``scales=None`` takes the config's ``eval.scales``; other scales are written into a copy
  of the config, so that the evaluation pipeline cuts the matching crops.
  """

  def __init__(self, config, variables, step: int = 0, flip: bool = False,
               scales: Optional[tuple] = None):
    own = heatmap_codec.check_scales(config.get("eval", {}).get("scales", (1.0,)))
    self.scales = own if scales is None else heatmap_codec.check_scales(scales)
    if self.scales != own:
      config = config.copy_and_resolve_references()
      config.eval.scales = self.scales
    self.config = config
    self.step = step
    self.flip = bool(flip)
    self.model = models.create(config.model)
    self.skeleton = datasets.skeleton(config.data)
    perm = self.skeleton.flip_permutation if flip else None
    predict = make_predict(self.model, perm)
    self.n_dev = jax.local_device_count()
    if self.n_dev > 1:
      self._fn = jax.pmap(predict, devices=jax.local_devices())
    else:
      self._fn = jax.jit(predict)
    self._merge = jax.jit(lambda *maps: heatmap_codec.merge_scales(maps, self.scales))
    self.update(variables, step)

  def update(self, variables, step: int) -> None:
    """New weights for the same network (no recompilation)."""
    self.variables, self.step = variables, step
    if self.n_dev > 1:
      self._replicated = jax.device_put_replicated(variables, jax.local_devices())

  def heatmaps(self, images: np.ndarray) -> np.ndarray:
    """(B, H, W, 3) normalised crops → (B, h, w, K) final heat maps (flip-merged if asked)."""
    if self.n_dev > 1:
      b = images.shape[0]
      if b % self.n_dev:
        raise ValueError(f"batch of {b} images does not split over {self.n_dev} devices")
      out = self._fn(self._replicated, images.reshape(self.n_dev, b // self.n_dev, *images.shape[1:]))
      return np.asarray(out).reshape(b, *out.shape[2:])
    return np.asarray(self._fn(self.variables, images))

  def multiscale_heatmaps(self, image_scales: np.ndarray) -> np.ndarray:
    """(B, n, H, W, 3) crops at ``self.scales`` → (B, h, w, K) maps averaged in the frame
    of the scale-1 crop's heat map (``heatmap.merge_scales``)."""
    if image_scales.ndim != 5 or image_scales.shape[1] != len(self.scales):
      raise ValueError(f"image_scales of shape {image_scales.shape}: expected (B, "
                       f"{len(self.scales)}, H, W, 3) for scales {self.scales}")
    maps = [self.heatmaps(image_scales[:, i]) for i in range(len(self.scales))]
    return np.asarray(self._merge(*maps))

  def joints(self, batch: dict) -> tuple[np.ndarray, np.ndarray]:
    """Predicted joints in image pixels (B, K, 2) and their heat-map maxima (B, K).

    Multi-scale (``self.scales != (1.0,)``) reads the batch's ``image_scales``.
    """
    if self.scales == (1.0,):
      hm = self.heatmaps(batch["image"])
    elif "image_scales" not in batch:
      raise ValueError(f"scales {self.scales} need the batch key image_scales (built by "
                       "pipeline.eval_batches when config.eval.scales has those scales)")
    else:
      hm = self.multiscale_heatmaps(batch["image_scales"])
    uv, maxvals = heatmap_codec.decode(hm)
    size = int(self.config.data.image_size)
    crop = heatmap_codec.to_crop(uv, size, hm.shape[1])
    return heatmap_codec.to_image(crop, batch["affine"]), maxvals


def predict_split(predictor: Predictor, split: str, batch_size: Optional[int] = None,
                  progress: bool = False) -> dict:
  """Runs over a whole split; returns numpy arrays ordered by record index."""
  from jaxpose.data import pipeline  # tf stays out of model-only imports
  cfg = predictor.config
  bs = int(batch_size or cfg.eval.batch_size)
  bs = max(predictor.n_dev, bs - bs % predictor.n_dev)
  keep = ("joints", "valid", "visible", "norm", "scale", "index")
  out = {k: [] for k in keep + ("pred", "maxvals")}
  it = pipeline.eval_batches(cfg, split, bs)
  if progress:
    from tqdm import tqdm
    it = tqdm(it, desc=f"eval {split}", unit="batch", leave=False)
  for batch in it:
    pred, maxvals = predictor.joints(batch)
    m = batch["mask"]
    out["pred"].append(pred[m])
    out["maxvals"].append(maxvals[m])
    for k in keep:
      out[k].append(batch[k][m])
  res = {k: np.concatenate(v) for k, v in out.items()}
  order = np.argsort(res["index"], kind="stable")
  return {k: v[order] for k, v in res.items()}


def resolve_checkpoint(path: str, which: str = "latest") -> tuple[str, int]:
  """(workdir, step) for a workdir or a ``WORKDIR/checkpoints/STEP`` directory."""
  path = os.path.abspath(path)
  base = os.path.basename(path.rstrip("/"))
  if base.isdigit() and os.path.basename(os.path.dirname(path)) == "checkpoints":
    return os.path.dirname(os.path.dirname(path)), int(base)
  if not os.path.isdir(os.path.join(path, "checkpoints")):
    raise checkpoint.CheckpointError(f"{path}: no checkpoints/ folder (is this a jaxpose workdir?)")
  mngr = checkpoint.manager(path, read_only=True)
  step = mngr.best_step() if which == "best" else mngr.latest_step()
  if step is None:
    raise checkpoint.CheckpointError(f"{path}/checkpoints holds no finished checkpoint")
  return path, int(step)


def load(path: str, which: str = "latest", flip: bool = False,
         overrides: Optional[ml_collections.ConfigDict] = None,
         data_overrides: Optional[dict] = None, scales: Optional[tuple] = None) -> Predictor:
  """A Predictor for the checkpoint at ``path`` (workdir or step directory).

  ``scales`` (None = the checkpoint config's ``eval.scales``) sets the multi-scale test.
  ``data_overrides`` (e.g. ``{"name": "lsp", "root": ""}``) evaluates the network on another
  dataset with the same joint set; a joint-count mismatch is an error.
  """
  workdir, step = resolve_checkpoint(path, which)
  mngr = checkpoint.manager(workdir, read_only=True)
  if step not in mngr.all_steps():
    raise checkpoint.CheckpointError(f"{workdir}/checkpoints has no step {step}; it has {mngr.all_steps()}")
  config = checkpoint.restore_config(mngr, step)
  if overrides is not None:
    checkpoint.check_compatible(config, overrides, f"{workdir}/checkpoints/{step}")
    config = overrides
  if data_overrides:
    from jaxpose.data import datasets  # tf-free registry lookup
    config = config.copy_and_resolve_references()
    config.data.update(data_overrides)
    k = datasets.skeleton(config.data).num_joints
    if k != int(config.model.num_joints):
      raise checkpoint.CheckpointError(
          f"{workdir}/checkpoints/{step} predicts {config.model.num_joints} joints; dataset "
          f"{config.data.name} has {k}")
  target = abstract_state(config)
  state = checkpoint.restore_state(mngr, step, target)
  variables = {"params": state.params}
  if state.batch_stats:
    variables["batch_stats"] = state.batch_stats
  return Predictor(config, variables, step=step, flip=flip, scales=scales)


def abstract_state(config):
  """The shapes of a TrainState for ``config`` (nothing allocated)."""
  model = models.create(config.model)
  tx = optim.optimizer(config.train, optim.schedule(config.train, 1, 1))
  size = int(config.data.image_size)
  return jax.eval_shape(lambda r: state_lib.create(model, tx, r, (1, size, size, 3)),
                        jax.random.PRNGKey(0))
