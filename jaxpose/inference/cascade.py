"""DeepPose's cascade at test time (issue #16): the chain of stage runs behind a refining stage's
workdir, the predictor that runs them one after the other, and ``run_predictor``, the one call
through which ``inference.load`` picks the predictor of any run (a plain ``Predictor`` for every
run that is not a refining stage). Training's side of the cascade:
``jaxpose/training/cascade.py``."""
from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np

from jaxpose import checkpoint, models
from jaxpose.inference.predictor import Predictor
from jaxpose.inference.restoring import restore, with_data


# The evaluation pipeline's builder of the canvas the refining stages cut from (``data.targets``):
# ``full_image`` (C, C, 3) uint8 and ``full_affine`` (2, 3) canvas pixel → image pixel.
FULL_IMAGE = "jaxpose.data.cascade:full_image"

class CascadePredictor:
  """DeepPose's cascade (Toshev & Szegedy 2014 §3; issue #16): stage 1, an ordinary
  coordinate regressor on the person crop (a ``Predictor``), then stages s = 2 … S, each a
  network that refines every joint from a sub-image of the full-resolution image.

  Stage s: the boxes ``(y_i^(s−1), σ·diam(y^(s−1)))`` (``codecs.cascade.stage_boxes``), cut
  inside jit from the batch's ``full_image`` canvas (``data.cascade.canvas``: the original pixels
  around the person, ``full_affine`` canvas → image) with ``codecs.cascade.crop_patches``,
  normalised as the training patches (``data.cascade``; black outside the image), the stage
  network on all B·K patches at once, output i of patch i mapped back (``codecs.cascade.refine``).
  ``stages`` = [(config, variables, step)] from stage 1 on; ``upto`` runs only the first ``upto``
  stages (0 = all: the per-stage results of DeepPose's tables). ``flip`` is stage 1's flip test.

  The interface is the ``Predictor``'s where evaluation uses it: ``config`` (stage 1's data and
  crop with the last stage's ``cascade`` and ``eval``), ``family``, ``skeleton``, ``step``,
  ``flip``, ``scales``, ``eval_inputs()``, ``predict(batch)``, ``update(variables, step)`` (the
  last stage's weights, for validation while it trains).
  """

  def __init__(self, stages, flip: bool = False, upto: int = 0):
    from jaxpose.codecs import cascade, geometry
    if not stages:
      raise ValueError("CascadePredictor needs at least stage 1")
    first_cfg, first_vars, first_step = stages[0]
    self.first = Predictor(first_cfg, first_vars, step=first_step, flip=flip)
    last_cfg = stages[-1][0]
    config = first_cfg.copy_and_resolve_references()
    config.cascade = last_cfg.cascade.copy_and_resolve_references()
    config.eval = last_cfg.eval.copy_and_resolve_references()
    config.name = last_cfg.get("name", "")
    self.config = config
    self.family, self.skeleton = self.first.family, self.first.skeleton
    self.flip, self.scales = self.first.flip, self.first.scales
    n = len(stages) if not upto else int(upto)
    if not 1 <= n <= len(stages):
      raise ValueError(f"upto={upto}: the cascade has {len(stages)} stages")
    self.num_stages = n
    mean = jnp.asarray(geometry.MEAN)
    std = jnp.asarray(geometry.STD)
    skeleton = self.skeleton
    self._stages = []
    for cfg, variables, step in stages[1:n]:
      model = models.create(cfg.model)
      size, sigma = int(cfg.data.image_size), float(cfg.cascade.sigma)

      def refine(variables, canvas, affine, prev, model=model, size=size, sigma=sigma):
        f = affine[:, 0, 0][:, None, None]  # canvas pixel → image pixel: x = f·u + origin
        origin = affine[:, None, :, 2]
        # patches are cut in [0, 1] (black outside) and normalised as the training patches
        net = lambda x: model.apply(variables, (x - mean) / std, train=False)["coords"][-1]
        new, _, _ = cascade.refine_stage(net, canvas, (prev - origin) / f, skeleton, sigma, size)
        return new * f + origin

      self._stages.append([jax.jit(refine), variables, int(step)])
    self.step = int(stages[n - 1][2])

  def eval_inputs(self) -> tuple:
    return self.first.eval_inputs() + ((FULL_IMAGE,) if self._stages else ())

  def update(self, variables, step: int) -> None:
    """New weights for the last stage (validation of the stage being trained)."""
    if self._stages:
      self._stages[-1][1:] = [variables, int(step)]
    else:
      self.first.update(variables, step)
    self.step = int(step)

  def predict(self, batch: dict) -> dict:
    out = self.first.predict(batch)
    if self._stages and "full_image" not in batch:
      raise ValueError(f"a refining stage needs the batch key full_image (pipeline.eval_batches "
                       f"builds it when eval_inputs() asks for {FULL_IMAGE})")
    joints = out["keypoints"]
    for fn, variables, _ in self._stages:
      joints = np.asarray(fn(variables, batch["full_image"], batch["full_affine"], joints))
    out["keypoints"] = joints.astype(np.float32)
    return out


def cascade_stages(config, variables, step: int, workdir: str, which: str = "latest") -> list:
  """[(config, variables, step)] of stage 1 … this run: ``cascade.previous`` followed back to
  stage 1. Raises ``CheckpointError`` naming the run whose previous stage is missing or does not
  fit (another skeleton, a stage number out of order)."""
  chain = [(config, variables, step)]
  while int(chain[0][0].cascade.get("stage", 1)) > 1:
    cfg = chain[0][0]
    stage, prev = int(cfg.cascade.stage), str(cfg.cascade.get("previous", "") or "")
    where = workdir if len(chain) == 1 else prev
    if not prev:
      raise checkpoint.CheckpointError(
          f"{where}: cascade.stage={stage} needs cascade.previous, the workdir of stage "
          f"{stage - 1}")
    if not os.path.isdir(os.path.join(prev, "checkpoints")):
      raise checkpoint.CheckpointError(
          f"cascade.previous={prev}: no trained stage {stage - 1} there (no checkpoints/); train "
          f"it first: python train.py --config=<recipe>:{stage - 1} --workdir={prev}")
    pcfg, pvars, pstep, _ = restore(prev, which)
    pstage = int(pcfg.get("cascade", {}).get("stage", 1))
    if pstage != stage - 1:
      raise checkpoint.CheckpointError(
          f"cascade.previous={prev} is stage {pstage}, expected stage {stage - 1}")
    if int(pcfg.model.num_joints) != int(cfg.model.num_joints):
      raise checkpoint.CheckpointError(
          f"cascade.previous={prev} predicts {pcfg.model.num_joints} joints, stage {stage} "
          f"{cfg.model.num_joints}")
    chain.insert(0, (pcfg, pvars, pstep))
  return chain


def is_cascade(config) -> bool:
  """Whether ``config`` is a refining stage of a cascade (``cascade.stage`` ≥ 2)."""
  cas = config.get("cascade")
  return cas is not None and int(cas.get("stage", 1)) > 1


def run_predictor(config, variables, step: int, workdir: str, flip: bool = False,
                  scales=None, data_overrides=None, subpixel=None):
  """The predictor of a restored run (``inference.load``): for a refining stage of a cascade, a
  ``CascadePredictor`` of every stage from stage 1 on (``cascade_stages``; the first
  ``eval.stage`` of them, 0 = all; ``data_overrides`` applied to each stage's config as
  ``restore`` applied them to this one); for any other run a ``Predictor`` with ``scales`` and
  ``subpixel``."""
  if not is_cascade(config):
    return Predictor(config, variables, step=step, flip=flip, scales=scales, subpixel=subpixel)
  stages = cascade_stages(config, variables, step, workdir)
  if data_overrides:
    stages = [(with_data(c, data_overrides), v, s) for c, v, s in stages]
  upto = int(config.eval.get("stage", 0) or 0)
  return CascadePredictor(stages, flip=flip, upto=upto)
