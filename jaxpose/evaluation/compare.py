"""Side-by-side table of several runs' evaluation files (ablations, comparisons).

  python -m jaxpose.evaluation.compare runs/msn_gt runs/msn_gt2 runs/msn_gt4 \\
      --metrics=PCK@0.2,Hard10-PCK@0.2:Overall

Each argument is a workdir (its ``eval/<dataset>_<split>.json``; ``--split`` / ``--dataset``
choose when it holds several) or such a JSON file itself. ``--metrics`` lists metric titles as
they stand in the JSON (``PCK@0.2``, ``PCKh@0.5``, ``PCP@0.5``, ...), each with all its columns or
``TITLE:COLUMN[+COLUMN]`` for some of them; the default is every metric of the first file. The
table is Markdown (readable in a terminal, pasteable into a README); a value the file does not
have, or could not score (``null``), shows as ``–``.
"""
from __future__ import annotations

import fnmatch
import glob
import json
import os
import sys
from typing import Optional, Sequence

from absl import app, flags


class CompareError(ValueError):
  """A run, evaluation file or metric that cannot be tabulated."""


def find_eval_file(path: str, dataset: str = "", split: str = "") -> str:
  """The evaluation JSON of ``path`` (a file, or a workdir's ``eval/*.json``)."""
  if os.path.isfile(path):
    return path
  if not os.path.isdir(path):
    raise CompareError(f"{path}: no such workdir or evaluation file")
  files = sorted(glob.glob(os.path.join(path, "eval", "*.json")))
  if dataset or split:
    want = f"{dataset or '*'}_{split or '*'}.json"
    files = [f for f in files if fnmatch.fnmatch(os.path.basename(f), want)]
  if not files:
    raise CompareError(f"{path}: no evaluation file eval/"
                       f"{dataset or '<dataset>'}_{split or '<split>'}.json (run evaluate.py first)")
  if len(files) > 1:
    names = ", ".join(os.path.basename(f) for f in files)
    raise CompareError(f"{path}: several evaluation files ({names}); choose with --dataset/--split")
  return files[0]


def load(path: str) -> dict:
  try:
    with open(path) as f:
      doc = json.load(f)
  except json.JSONDecodeError as e:
    raise CompareError(f"{path}: not a JSON evaluation file ({e})") from None
  if not isinstance(doc, dict) or not isinstance(doc.get("metrics"), dict):
    raise CompareError(f"{path}: no 'metrics' object (not written by evaluate.py / train.py?)")
  return doc


def parse_metrics(spec: str) -> list[tuple[str, Optional[tuple[str, ...]]]]:
  """``"PCK@0.2,PCP@0.5:Total+Mean"`` → ``[("PCK@0.2", None), ("PCP@0.5", ("Total", "Mean"))]``."""
  out = []
  for item in (s.strip() for s in spec.split(",")):
    if not item:
      continue
    title, _, cols = item.partition(":")
    out.append((title.strip(), tuple(c.strip() for c in cols.split("+") if c.strip()) or None))
  return out


def table(runs: Sequence[tuple[str, dict]], metrics=None) -> str:
  """A Markdown table: one row per ``(label, evaluation doc)``, one column per metric column."""
  if not runs:
    raise CompareError("no runs to compare")
  first = runs[0][1]
  metrics = list(metrics) if metrics else [(t, None) for t in first["metrics"]]
  columns = []
  for title, cols in metrics:
    if cols is None:
      have = next((d["metrics"][title] for _, d in runs if title in d["metrics"]), None)
      if have is None:
        known = sorted({t for _, d in runs for t in d["metrics"]})
        raise CompareError(f"metric {title!r} is in none of the files; they have {known}")
      cols = tuple(have)
    columns += [(title, c) for c in cols]
  single = len({t for t, _ in columns}) == 1
  header = ["run", "step"] + [c if single else f"{t} {c}" for t, c in columns]
  rows = []
  for label, doc in runs:
    cells = [label, str(doc.get("step", "–"))]
    for title, col in columns:
      v = doc["metrics"].get(title, {}).get(col)
      cells.append("–" if v is None else f"{float(v):.1f}")
    rows.append(cells)
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  lines += ["| " + " | ".join(r) + " |" for r in rows]
  if single:
    lines.insert(0, f"{columns[0][0]}:")
  return "\n".join(lines)


flags.DEFINE_string("metrics", "", "Comma-separated metric titles, each optionally "
                    "TITLE:COL[+COL]; default: every metric of the first file.")
flags.DEFINE_string("dataset", "", "Pick eval/<dataset>_*.json in each workdir.")
flags.DEFINE_string("split", "", "Pick eval/*_<split>.json in each workdir.")


def main(argv):
  paths = argv[1:]
  if not paths:
    raise app.UsageError("give one or more workdirs or evaluation JSON files")
  F = flags.FLAGS
  try:
    runs = []
    for p in paths:
      doc = load(find_eval_file(p, F.dataset, F.split))
      runs.append((os.path.basename(os.path.normpath(p)), doc))
    print(table(runs, parse_metrics(F.metrics) or None))
  except CompareError as e:
    print(f"compare: {e}", file=sys.stderr)
    return 2
  return 0


if __name__ == "__main__":
  app.run(main)
