"""Restore a trained network and predict joints: on batches, on whole splits.

``load(path)`` accepts a workdir (latest or best checkpoint) or one checkpoint step
directory and needs nothing else: the config is stored in the checkpoint. Only the
parameters and BatchNorm statistics are restored (no optimizer is built).

Everything model-specific goes through the model's family (``jaxpose.families``): which
outputs make the prediction, how the flipped crop's outputs merge back, whether a multi-scale
test exists, how outputs decode to joints. Test-time options (Tang & Wu 2019 §4.2, after Yang
et al. 2017): ``flip`` merges each crop's prediction with its mirror image's; ``scales``
(default the config's ``eval.scales``; ``(1.0,)`` = the plain crop) is the image pyramid of
the heat-map families: the eval pipeline cuts one crop per scale with the box side × s, the
network runs on each (flip-merged when asked), the family merges them
(``heatmap.merge_scales`` in the scale-1 frame) and the one decode follows, then the crop →
image ``affine``. The six scales of the paper are ``PYRAMID_SCALES`` (0.8 … 1.3).

A user's own images (``Predictor.from_checkpoint``, ``predict_image``, ``predict_batch``):
decoded by Pillow and cut by ``jaxpose.crops``, the numpy port of the pipeline's crop (the same
float32 pixels), so this path never imports tensorflow; with a record's image and its centre
and scale it reproduces ``predict_split`` bit for bit (tests/inference/test_predict.py; JPEG files decode
slightly differently in Pillow and tensorflow, see ``jaxpose.crops``).

Layering: inference uses models, families, codecs, crops, data and evaluation; training uses
inference (validation); nothing here imports training.
"""
from __future__ import annotations

from typing import Optional

import ml_collections
import numpy as np

from jaxpose.evaluation import report
from jaxpose.inference.cascade import CascadePredictor, cascade_stages, run_predictor
from jaxpose.inference.predictor import PYRAMID_SCALES, Predictor, parse_scales
from jaxpose.inference.restoring import (abstract_variables, default_which, resolve_checkpoint,
                                         restore)

__all__ = ["PYRAMID_SCALES", "CascadePredictor", "GT_KEYS", "Predictor", "abstract_variables",
           "cascade_stages", "default_which", "evaluate", "load", "parse_scales",
           "predict_split", "resolve_checkpoint", "restore"]

GT_KEYS = ("joints", "valid", "visible", "norm", "scale", "index", "part_windows")


def predict_split(predictor: Predictor, split: str, batch_size: Optional[int] = None,
                  progress: bool = False) -> dict:
  """Runs over a whole split; numpy arrays ordered by record index: the prediction under the
  family's own keys, passed through unnamed (``keypoints`` in image pixels, ``scores``,
  ``visibility`` when the family predicts presence, HMLPE's ``parts``, …: its
  ``prediction_keys()``) and the ground truth of ``GT_KEYS`` that the batches carry."""
  from jaxpose.data import pipeline  # tf stays out of model-only imports
  cfg = predictor.config
  bs = int(batch_size or cfg.eval.batch_size)
  out: dict = {}
  it = pipeline.eval_batches(cfg, split, bs, inputs=predictor.eval_inputs())
  if progress:
    from tqdm import tqdm
    it = tqdm(it, desc=f"eval {split}", unit="batch", leave=False)
  for batch in it:
    pred = predictor.predict(batch)
    m = batch["mask"]
    clash = sorted(set(pred) & set(GT_KEYS))
    if clash:
      raise ValueError(f"the {predictor.family.name} family's prediction key {clash[0]!r} is a "
                       f"ground-truth key ({', '.join(GT_KEYS)}); name it otherwise")
    row = dict(pred)
    row.update({k: batch[k] for k in GT_KEYS if k in batch})
    for k, v in row.items():
      out.setdefault(k, []).append(v[m])
  res = {k: np.concatenate(v) for k, v in out.items()}
  order = np.argsort(res["index"], kind="stable")
  return {k: v[order] for k, v in res.items()}


def evaluate(predictor: Predictor, split: str, metrics=None, progress: bool = False,
             batch_size: Optional[int] = None) -> dict:
  """Predicts a split and scores it (``report.score``); the predictions are kept in the
  result under ``_predictions``."""
  res = predict_split(predictor, split, batch_size=batch_size, progress=progress)
  cfg = predictor.config
  out = report.score(res, predictor.skeleton, list(metrics or cfg.eval.metrics),
                     scale_pad=float(cfg.data.scale_pad))
  out.update(step=int(predictor.step), config=str(cfg.get("name", "")), dataset=cfg.data.name,
             split=split, flip=predictor.flip, scales=[float(s) for s in predictor.scales])
  out["_predictions"] = res
  return out


def load(path: str, which: str = "latest", flip: bool = False,
         overrides: Optional[ml_collections.ConfigDict] = None,
         data_overrides: Optional[dict] = None, scales: Optional[tuple] = None,
         stage: Optional[int] = None, subpixel: Optional[str] = None) -> Predictor:
  """A Predictor for the checkpoint at ``path`` (workdir or step directory).

  ``stage`` (None = the config's ``eval.stage``; 0 = the last) predicts from one stage: a CPM's
  stage t, or the first t stages of a DeepPose cascade (a ``CascadePredictor``, returned for a
  refining stage's run with every stage from stage 1 on).

  ``scales`` (None = the checkpoint config's ``eval.scales``) sets the multi-scale test,
  ``subpixel`` (None = its ``eval.subpixel``) a heat-map family's sub-pixel step.
  ``data_overrides`` (e.g. ``{"name": "lsp", "root": ""}``) evaluates the network on another
  dataset with the same joint set; a joint-count mismatch is an error.
  """
  config, variables, step, workdir = restore(path, which, overrides, data_overrides)
  if stage is not None:
    config = config.copy_and_resolve_references()
    config.eval.stage = int(stage)
  # a Predictor; for a refining stage of DeepPose's cascade every stage (inference/cascade.py)
  return run_predictor(config, variables, step, workdir, flip=flip, scales=scales,
                       data_overrides=data_overrides, subpixel=subpixel)
