"""Evaluate a predictor on a split: metrics, printed tables, the JSON file scripts read.

``WORKDIR/eval/<dataset>_<split>.json`` has the stable shape
``{"step": N, "config": NAME, "dataset": D, "split": S, "flip": bool,
"metrics": {"PCKh@0.5": {"Head": …, …, "Mean": …}}, "per_joint": {...}}`` (percent).
"""
from __future__ import annotations

import json
import os

import numpy as np

from jaxpose import skeleton as skel
from jaxpose.evaluation.tables import compute_metrics, format_table


def evaluate(predictor, split: str, metrics=None, progress: bool = False) -> dict:
  from jaxpose.inference import predict_split
  cfg = predictor.config
  res = predict_split(predictor, split, progress=progress)
  names = list(metrics or cfg.eval.metrics)
  out = compute_metrics(names, res["pred"], res["joints"][..., :2], res["valid"], res["norm"],
                        skel.get(cfg.data.skeleton))
  out.update(step=int(predictor.step), config=str(cfg.get("name", "")), dataset=cfg.data.name,
             split=split, num_examples=int(len(res["pred"])))
  out["_predictions"] = res
  return out


def format_results(results: dict) -> str:
  lines = [f"{results['dataset']} / {results['split']}: {results['num_examples']} examples, "
           f"step {results['step']}"]
  for title, row in results["metrics"].items():
    lines.append(format_table(title, row))
    per_joint = results["per_joint"][title]
    lines.append("  per joint: " + ", ".join(f"{j} {v:.1f}" for j, v in per_joint.items()))
  return "\n".join(lines)


def write_json(results: dict, workdir: str, extra: dict | None = None) -> str:
  path = os.path.join(workdir, "eval", f"{results['dataset']}_{results['split']}.json")
  os.makedirs(os.path.dirname(path), exist_ok=True)
  doc = {k: v for k, v in results.items() if not k.startswith("_")}
  doc.update(extra or {})
  with open(path, "w") as f:
    json.dump(doc, f, indent=2, default=_plain)
  return path


def _plain(x):
  if isinstance(x, np.generic):
    return x.item()
  raise TypeError(type(x))
