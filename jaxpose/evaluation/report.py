"""Score a split's predictions: metrics, printed tables, the JSON file scripts read.

Pure numpy: ``score`` takes predictions and ground truth (``inference.predict_split`` makes
them; ``inference.evaluate`` runs both), it never runs a model.

``WORKDIR/eval/<dataset>_<split>.json`` has the stable shape
``{"step": N, "config": NAME, "dataset": D, "split": S, "flip": bool, "scales": [1.0, …],
"metrics": {"PCKh@0.5": {"Head": …, …, "UBody": …, "Total": …, "Mean": …}, "AUC": {"Total": …},
"PCP@0.5": {"Torso": …, …, "Total": …, "Mean": …}}, "per_joint": {TITLE: {joint or part: …}}}``
(percent; ``null`` where nothing could be scored — NaN in the in-memory results). "Total" is the official pooled figure of
every table (see ``tables``); training selects checkpoints on it.
"""
from __future__ import annotations

import json
import os

import numpy as np

from jaxpose.evaluation.metrics import compute_metrics
from jaxpose.evaluation import tables


# Prediction keys of earlier versions (before one vocabulary, issue #40) → today's.
LEGACY_KEYS = {"pred": "keypoints", "score": "scores", "pred_visible": "visibility",
               "pred_parts": "parts"}


def score(predictions: dict, skeleton, metrics, scale_pad: float = 1.25) -> dict:
  """The named metrics of one split's predictions (pure numpy; nothing here runs a model).

  ``predictions`` (``inference.predict_split``): ``keypoints`` (N, K, 2) image pixels,
  ``joints`` (N, K, 2+) ground truth, ``valid``, ``visible`` (N, K), ``norm`` (N,), optional
  ``scale`` (N,) (the crop height is ``200 · scale · scale_pad``, DESIGN.md geometry
  conventions), ``image_height`` (N,), and every other key of the family's prediction
  (``visibility``, HMLPE's ``parts``, …) or of the batches (``part_windows``), passed to the
  metrics unnamed. Predictions of earlier versions (``pred``, ``pred_visible``,
  ``pred_parts``) are read under the new names.
  """
  res = {LEGACY_KEYS.get(k, k): v for k, v in predictions.items()}
  visible = res.get("visible")
  if visible is None and res["joints"].shape[-1] > 2:
    visible = res["joints"][..., 2]
  crop_height = None
  if res.get("scale") is not None:
    crop_height = 200.0 * np.asarray(res["scale"], np.float64) * float(scale_pad)
  named = ("keypoints", "joints", "valid", "norm", "visible", "scale", "image_height")
  rest = {k: v for k, v in res.items() if k not in named}
  out = compute_metrics(list(metrics), res["keypoints"], res["joints"][..., :2], res["valid"],
                        res.get("norm"), skeleton, visible=visible, crop_height=crop_height,
                        image_height=res.get("image_height"), **rest)
  out["num_examples"] = int(len(res["keypoints"]))
  return out


def format_results(results: dict) -> str:
  head = (f"{results['dataset']} / {results['split']}: {results['num_examples']} examples, "
          f"step {results['step']}")
  if "flip" in results:
    head += f", flip test {'on' if results['flip'] else 'off'}"
  if "scales" in results:
    head += ", scales " + ",".join(f"{float(s):g}" for s in results["scales"])
  lines = [head]
  for title, row in results["metrics"].items():
    lines.append(tables.format_table(title, row))
    items = results["per_joint"].get(title, {})
    if items:
      label = "per part" if title.startswith("PCP") else "per joint"
      lines.append(f"  {label}: " + ", ".join(
          f"{j} {tables.number(v, 1)}" for j, v in items.items()))
  return "\n".join(lines)


def write_json(results: dict, workdir: str, extra: dict | None = None,
               path: str | None = None) -> str:
  """Writes ``json_doc(results, extra)`` to ``path`` (default
  ``WORKDIR/eval/<dataset>_<split>.json``) and returns the path."""
  if path is None:
    path = os.path.join(workdir, "eval", f"{results['dataset']}_{results['split']}.json")
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, "w") as f:
    json.dump(json_doc(results, extra), f, indent=2, allow_nan=False)
  return path


def json_doc(results: dict, extra: dict | None = None) -> dict:
  """The results without private keys, as strict JSON values: a metric that could not be
  scored (NaN, e.g. a column with no annotated joint) becomes ``null``."""
  doc = {k: v for k, v in results.items() if not k.startswith("_")}
  doc.update(extra or {})
  return _plain(doc)


def _plain(x):
  if isinstance(x, dict):
    return {str(k): _plain(v) for k, v in x.items()}
  if isinstance(x, (list, tuple)):
    return [_plain(v) for v in x]
  if isinstance(x, np.ndarray):
    return _plain(x.tolist())
  if isinstance(x, np.generic):
    x = x.item()
  if isinstance(x, float) and not np.isfinite(x):
    return None
  return x
