"""Evaluate a predictor on a split: metrics, printed tables, the JSON file scripts read.

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

from jaxpose.data import datasets
from jaxpose.evaluation.tables import compute_metrics, format_table


def evaluate(predictor, split: str, metrics=None, progress: bool = False) -> dict:
  from jaxpose.inference import predict_split
  cfg = predictor.config
  res = predict_split(predictor, split, progress=progress)
  names = list(metrics or cfg.eval.metrics)
  visible = res.get("visible")
  if visible is None and res["joints"].shape[-1] > 2:
    visible = res["joints"][..., 2]
  crop_height = None
  if res.get("scale") is not None:
    # The crop box is a square of side 200 · scale · scale_pad image pixels (DESIGN.md,
    # geometry conventions): the height of the image the network sees.
    crop_height = 200.0 * np.asarray(res["scale"], np.float64) * float(
        cfg.data.get("scale_pad", 1.25))
  out = compute_metrics(names, res["pred"], res["joints"][..., :2], res["valid"], res["norm"],
                        datasets.skeleton(cfg.data), visible=visible, crop_height=crop_height,
                        image_height=res.get("image_height"))
  out.update(step=int(predictor.step), config=str(cfg.get("name", "")), dataset=cfg.data.name,
             split=split, num_examples=int(len(res["pred"])),
             flip=bool(getattr(predictor, "flip", False)),
             scales=[float(s) for s in getattr(predictor, "scales", (1.0,))])
  out["_predictions"] = res
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
    lines.append(format_table(title, row))
    items = results["per_joint"].get(title, {})
    if items:
      label = "per part" if title.startswith("PCP") else "per joint"
      lines.append(f"  {label}: " + ", ".join(
          f"{j} {'-' if np.isnan(v) else f'{v:.1f}'}" for j, v in items.items()))
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
