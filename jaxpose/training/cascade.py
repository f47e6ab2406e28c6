"""DeepPose's cascade at training time (Toshev & Szegedy 2014 §3.2; issue #16): what a refining
stage's run adds to the generic loop, reached through one hook the loop calls for every config.

``stage_hooks(config)`` → ``Hooks``: where the training batches come from (``batches``) and what
validates the network being trained (``predictor``). An ordinary run (every config that is not a
cascade's refining stage, ``cascade.stage`` ≥ 2) gets the plain ``Hooks``: the pipeline's
batches with the family's targets, a ``Predictor`` of the network. A refining stage s gets
``RefiningStage``: its ``cascade.previous`` stored absolute in the checkpoints, stages 1 … s−1
restored (read only: each stage keeps its own workdir and parameters), their predictions on
the training split and error model (``stage_table``) behind the sub-image batches of
``data.cascade``, and validation of the whole cascade (``inference.CascadePredictor``).

The cascade's other parts: ``codecs/cascade.py`` (box geometry, error statistics),
``data/cascade.py`` (the training patches), ``inference/cascade.py`` (the stage chain of a
workdir and the predictor that runs it; ``inference.load``'s choice of predictor).
"""
from __future__ import annotations

import os

import jax
import numpy as np

from jaxpose import checkpoint, inference
from jaxpose.errors import ConfigError
from jaxpose.inference.cascade import cascade_stages, is_cascade


class Hooks:
  """An ordinary run: the pipeline's batches, validated by a ``Predictor`` of its network."""

  def batches(self, config, family, start: int, workdir: str, chief: bool = True):
    """The training batches from step ``start`` on, this process's share of each."""
    from jaxpose.data import pipeline  # tf is imported only by the data side
    return pipeline.train_iterator(config, int(config.train.batch_size), start,
                                   jax.process_index(), jax.process_count(),
                                   targets=family.targets())

  def predictor(self, config, variables, step: int, flip: bool = False):
    """The predictor that validates ``variables`` (the network being trained) at ``step``."""
    return inference.Predictor(config, variables, step=step, flip=flip)


class RefiningStage(Hooks):
  """A refining stage s ≥ 2 of DeepPose's cascade. Built at start-up, it makes ``config``'s
  ``cascade.previous`` absolute in place (the config is saved with every checkpoint);
  ``batches`` then restores stages 1 … s−1 and builds their table, which ``predictor`` chains
  in front of the stage being trained."""

  def __init__(self, config):
    if config.cascade.get("previous"):
      config.cascade.previous = os.path.abspath(config.cascade.previous)
    self.chain = None  # [(config, variables, step)] of stages 1 … s−1, once batches() ran

  def batches(self, config, family, start: int, workdir: str, chief: bool = True):
    """Sub-images around the stage-(s−1) predictions (and simulated ones) of the training set,
    ``data.cascade.train_iterator`` over ``stage_table``."""
    from jaxpose.data import cascade as cascade_data
    self.chain = previous_stages(config, workdir)
    table = stage_table(config, self.chain, workdir, chief)
    return cascade_data.train_iterator(config, int(config.train.batch_size), table, start,
                                       jax.process_index(), jax.process_count())

  def predictor(self, config, variables, step: int, flip: bool = False):
    """The whole cascade, stages 1 … s−1 then ``variables`` (``flip``: stage 1's flip test)."""
    return inference.CascadePredictor(self.chain + [(config, variables, step)], flip=flip)


def stage_hooks(config) -> Hooks:
  """The hooks of the run ``config`` trains: a ``RefiningStage`` for a cascade's stage ≥ 2,
  the plain ``Hooks`` for every other config."""
  return RefiningStage(config) if is_cascade(config) else Hooks()


def previous_stages(config, workdir: str) -> list:
  """Stages 1 … s−1 of the cascade stage ``config`` trains
  (``inference.cascade.cascade_stages``); their runs are only read, never written (each stage keeps its own workdir and parameters).
  ``ConfigError`` without ``cascade.previous`` or when it is this run's own workdir;
  ``CheckpointError`` when no trained stage s−1 is there."""
  prev = str(config.cascade.get("previous", "") or "")
  stage = int(config.cascade.stage)
  if not prev:
    raise ConfigError(f"cascade.stage={stage} needs cascade.previous, the workdir of stage "
                      f"{stage - 1}")
  if os.path.abspath(prev) == os.path.abspath(workdir):
    raise ConfigError(f"cascade.previous={prev} is this run's own workdir")
  if not os.path.isdir(os.path.join(prev, "checkpoints")):
    raise checkpoint.CheckpointError(
        f"cascade.previous={prev}: no trained stage {stage - 1} there (no checkpoints/); train "
        f"it first: python train.py --config=<recipe>:{stage - 1} --workdir={prev}")
  pcfg, pvars, pstep, pdir = inference.restore(prev)
  return cascade_stages(pcfg, pvars, pstep, pdir)


def stage_table(config, chain: list, workdir: str, chief: bool = True) -> dict:
  """The stage-(s−1) predictions of the training split and their error model (Toshev & Szegedy
  §3.2), which ``data.cascade`` draws the stage-s boxes from: ``index``, ``prev`` (N, K, 2)
  image pixels, ``mean`` (K, 2), ``chol`` (K, 2, 2) of the errors ``(y^(s−1) − y) / side`` with
  ``side = σ·diam(y)`` (``codecs.cascade.error_statistics``; the records' ``norm`` where the
  torso is unannotated, as the pipeline). Computed once by running stages 1 … s−1 (``chain``)
  over the un-augmented training crops and kept in ``WORKDIR/cascade_table.npz`` (a resumed run
  reads it; it is recomputed when the previous stage's checkpoint changed). The chief prints
  the mean error per joint, in box sides."""
  from jaxpose.codecs import cascade
  from jaxpose.data import datasets
  path = os.path.join(workdir, "cascade_table.npz")
  source = f"{config.cascade.previous}@{chain[-1][2]}"
  if os.path.exists(path):
    with np.load(path) as f:
      if str(f["source"]) == source:
        return {k: f[k] for k in ("index", "prev", "mean", "chol")}
  predictor = inference.CascadePredictor(chain)
  res = inference.predict_split(predictor, config.data.train_split, progress=chief)
  gt, valid = res["joints"][..., :2], res["valid"]
  skeleton = datasets.skeleton(config.data)
  diam = cascade.torso_diameter(gt, skeleton, valid)
  diam = np.where(np.isfinite(diam) & (diam > 0), diam, res["norm"])
  sides = float(config.cascade.sigma) * diam
  mean, cov = cascade.error_statistics(res["keypoints"], gt, valid, sides)
  table = {"index": res["index"].astype(np.int64), "prev": res["keypoints"].astype(np.float32),
           "mean": np.asarray(mean, np.float32),
           "chol": np.asarray(cascade.cholesky_2x2(np.asarray(cov, np.float64)), np.float32)}
  if chief:
    np.savez(path, source=np.array(source), **table)
    err = np.linalg.norm(res["keypoints"] - gt, axis=-1) / sides[:, None]
    err = np.where(valid > 0, err, np.nan)
    print(f"cascade stage {int(config.cascade.stage)}: stage-{len(chain)} predictions of "
          f"{len(gt)} training people, mean error {np.nanmean(err):.3f} box sides "
          f"(σ·diam, σ = {float(config.cascade.sigma):g}); per joint: " + ", ".join(
              f"{n} {e:.3f}" for n, e in zip(skeleton.joints, np.nanmean(err, axis=0))),
          flush=True)
  return table
