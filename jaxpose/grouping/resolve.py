"""The part grouping of a PBN config, resolved once at training start-up.

A config says *how* to group the joints in ``model.grouping`` and carries the result in
``model.groups`` (the ``PBN.groups`` field: tuples of joint indices in the skeleton's
order; ``()`` = not resolved yet):

================================  ==========================================================
``model.grouping.strategy``       ``"stat"`` — §3.1 data-driven: mutual information of the
                                  joint locations in the training annotations of
                                  ``config.data``, spectral clustering into ``k`` groups;
                                  ``"body"`` — the handcrafted §3.1 groups of the skeleton;
                                  ``"file"`` — a groups JSON written by
                                  ``python -m jaxpose.grouping --output=...``;
                                  ``"explicit"`` — ``model.groups`` as written
``k``, ``seed``, ``method``       stat: number of groups (§4.3 tries 2, 5, 8, 16), k-means
                                  seed (kept apart from ``config.seed`` so that runs with
                                  other training seeds share the groups), ``"shi_malik"`` |
                                  ``"njw"``
``bins``, ``normalize``,          stat: lattice side (16, §3.1), pose normalisation
``split``                         (``""`` = ``"box"`` for the LSP family, else ``"crop"``),
                                  annotation split (``""`` = ``data.train_split``)
``file``                          file: the JSON path; its joint names must be the dataset
                                  skeleton's
``overlap``,                      ``"none"`` | ``"paper"`` (§4.3: each shoulder also joins
``overlap_threshold``             the group of its elbow and wrist) | ``"affinity"`` (a
                                  joint joins the group it shares normalised MI ≥ the
                                  threshold with, at most one per group)
================================  ==========================================================

``resolve_config`` turns the strategy into explicit groups in ``model.groups`` before the
trainer builds the model and writes the config beside the checkpoints (the trainer's one call
for every model, ``resolve_for_training``, a no-op without ``model.grouping``), so every
checkpoint, ``evaluate.py`` and ``inference.load`` carry the exact groups a run used. A resumed
run takes the groups stored in its checkpoint instead of computing them again.
``models.create`` refuses a PBN whose grouping is unresolved (``models.pbn.check_grouping``).
"""
from __future__ import annotations

import json
import os
from typing import Any, NamedTuple, Optional

import ml_collections
import numpy as np

from jaxpose import skeleton as skeleton_lib
from jaxpose.grouping.groups import (BODY_GROUPS, Groups, body_groups, canonical,
                                     expand_overlap, group_names, load_groups, paper_overlap,
                                     save_groups)
from jaxpose.grouping.mi import (DEFAULT_EXTENT, affinity, default_normalization,
                                 joint_mutual_information, records_arrays)
from jaxpose.grouping.spectral import METHODS, spectral_groups

STRATEGIES = ("stat", "body", "file", "explicit")
OVERLAPS = ("none", "paper", "affinity")


class Resolution(NamedTuple):
  """Resolved groups, the MI they came from (nats; None where none was computed) and a
  one-line account of where they came from."""
  groups: Groups
  mi: Optional[np.ndarray]
  source: str


def spec(strategy: str = "stat", **overrides: Any) -> ml_collections.ConfigDict:
  """A complete ``model.grouping`` section (every key, so the CLI can set any of them)."""
  c = ml_collections.ConfigDict({
      "strategy": strategy, "k": 5, "seed": 0, "method": "shi_malik", "bins": 16,
      "normalize": "", "split": "", "file": "", "overlap": "none", "overlap_threshold": 0.75})
  c.update(overrides)
  return c


def is_resolved(model_cfg) -> bool:
  """True when ``model.groups`` holds groups (the strategy, if any, is then provenance)."""
  return bool(model_cfg.get("groups"))


def check_spec(grouping, skel: skeleton_lib.Skeleton) -> None:
  """Raises ``ValueError`` naming the key for a ``model.grouping`` the resolver cannot use
  with ``skel`` (nothing is read)."""
  g = _as_dict(grouping)
  strategy = g.get("strategy")
  if strategy not in STRATEGIES:
    raise ValueError(f"model.grouping.strategy={strategy!r}; choose one of {STRATEGIES}")
  overlap = g.get("overlap", "none") or "none"
  if overlap not in OVERLAPS:
    raise ValueError(f"model.grouping.overlap={overlap!r}; choose one of {OVERLAPS}")
  if strategy == "explicit" and overlap != "none":
    raise ValueError("model.grouping.overlap applies to computed groups; with strategy "
                     "'explicit' write the overlapping groups into model.groups")
  if strategy == "stat":
    k = int(g.get("k", 0))
    if not 1 <= k <= skel.num_joints:
      raise ValueError(f"model.grouping.k={k} must be in [1, {skel.num_joints}] "
                       f"({skel.name} skeleton)")
    if g.get("method", "shi_malik") not in METHODS:
      raise ValueError(f"model.grouping.method={g.get('method')!r}; choose one of {METHODS}")
    if (g.get("normalize") or "") not in ("",) + tuple(DEFAULT_EXTENT):
      raise ValueError(f"model.grouping.normalize={g.get('normalize')!r}; choose '' (auto) or "
                       f"one of {sorted(DEFAULT_EXTENT)}")
  if strategy == "body" and skel.name not in BODY_GROUPS:
    raise ValueError(f"model.grouping.strategy='body': no handcrafted groups for skeleton "
                     f"{skel.name!r} (defined for {sorted(BODY_GROUPS)})")
  if strategy == "file" and not g.get("file"):
    raise ValueError("model.grouping.strategy='file' needs model.grouping.file (a JSON written "
                     "by python -m jaxpose.grouping --output=...)")
  if overlap == "paper":
    missing = [f"{s}_{p}" for s in "lr" for p in ("shoulder", "elbow")
               if f"{s}_{p}" not in skel.joints]
    if missing:
      raise ValueError(f"model.grouping.overlap='paper' needs joints {missing}, which skeleton "
                       f"{skel.name!r} lacks")


def annotations(data_cfg, split: Optional[str] = None) -> dict[str, np.ndarray]:
  """Joints (N,K,2), valid, centers, scales of a split of ``data_cfg``'s dataset, without
  reading a single image.

  Real datasets go through their annotation readers (``sources.read_split``, with
  ``data.root``, ``data.limit`` and ``data.on_error`` as the training builder uses them);
  the embedded synthetic dataset through its TFDS builder, images left undecoded. Splits
  may be joined with ``+`` (``"train+validation"``).
  """
  from jaxpose.data import sources  # lazily: the readers are not needed to use groups
  split = split or data_cfg.train_split
  if data_cfg.name == "synthetic_pose":
    return _tfds_annotations(data_cfg, split)
  limit = int(data_cfg.limit) or None
  records = []
  for part in split.split("+"):
    records += sources.read_split(data_cfg.name, part.strip(), root=data_cfg.get("root") or None,
                                  on_error=data_cfg.on_error, limit=limit)
  return records_arrays(records)


def _tfds_annotations(data_cfg, split: str) -> dict[str, np.ndarray]:
  import tensorflow as tf
  import tensorflow_datasets as tfds
  from jaxpose.data import datasets
  tf.config.set_visible_devices([], "GPU")  # JAX owns the accelerator
  ds = datasets.builder(data_cfg).as_dataset(
      split=split, shuffle_files=False, decoders={"image": tfds.decode.SkipDecoding()})
  keys = {"joints": "joints", "valid": "valid", "center": "centers", "scale": "scales"}
  ds = ds.map(lambda e: {k: e[k] for k in (*keys, "index")}).batch(4096)
  parts = list(tfds.as_numpy(ds))
  if not parts:
    raise ValueError(f"{data_cfg.name}/{split}: no records to compute groups from")
  order = np.argsort(np.concatenate([p["index"] for p in parts]), kind="stable")  # TFDS shuffles
  out = {new: np.concatenate([p[old] for p in parts]).astype(np.float64)[order]
         for old, new in keys.items()}
  out["joints"] = out["joints"][..., :2]
  return out


def _stat_mi(g: dict, data_cfg) -> tuple[np.ndarray, str]:
  split = g.get("split") or data_cfg.train_split
  arr = annotations(data_cfg, split)
  mode = g.get("normalize") or default_normalization(data_cfg.name)
  mi = joint_mutual_information(
      arr["joints"], arr["valid"], arr["centers"] if mode == "crop" else None,
      arr["scales"] if mode == "crop" else None, bins=int(g.get("bins", 16)), mode=mode)
  return mi, f"{data_cfg.name}/{split}, {len(arr['joints'])} poses, {mode} normalisation"


def compute(grouping, data_cfg) -> Resolution:
  """The groups ``grouping`` (a ``model.grouping`` section) gives for ``data_cfg``'s
  skeleton, read from ``data_cfg``'s annotations where the strategy needs them.

  Raises:
    ValueError: a bad spec (``check_spec``), a groups file that cannot be read or names
      other joints than the skeleton's (the message names the file).
  """
  from jaxpose.data import datasets  # tf-free registry
  skel = datasets.skeleton(data_cfg)
  check_spec(grouping, skel)
  g = _as_dict(grouping)
  strategy, overlap, mi = g["strategy"], g.get("overlap") or "none", None
  if strategy == "stat":
    mi, where = _stat_mi(g, data_cfg)
    k, method = int(g["k"]), g.get("method", "shi_malik")
    groups = spectral_groups(affinity(mi), k, seed=int(g.get("seed", 0)), method=method)
    source = f"stat: {method} spectral clustering, k={k}, of the MI of {where}"
  elif strategy == "body":
    groups, source = body_groups(skel), f"body: the handcrafted §3.1 groups of {skel.name}"
  elif strategy == "file":
    groups, mi = _load_file(g["file"], skel)
    source = f"file: {g['file']}"
  else:
    raise ValueError("model.grouping.strategy='explicit' needs model.groups (joint-index "
                     "groups); it is empty")
  if overlap == "paper":
    groups, source = paper_overlap(groups, skel), source + "; shoulders overlap (§4.3)"
  elif overlap == "affinity":
    if mi is None:
      mi, where = _stat_mi(g, data_cfg)
      source += f"; MI of {where}"
    threshold = float(g.get("overlap_threshold", 0.75))
    groups = expand_overlap(groups, affinity(mi), threshold=threshold)
    source += f"; overlap where normalised MI >= {threshold:g}"
  return Resolution(canonical(groups), mi, source)


def _load_file(path: str, skel: skeleton_lib.Skeleton) -> tuple[Groups, Optional[np.ndarray]]:
  path = os.path.expanduser(path)
  if not os.path.isfile(path):
    raise ValueError(f"model.grouping.file: groups file not found: {path}")
  try:
    with open(path) as f:
      names = json.load(f).get("joints")
  except (OSError, ValueError, AttributeError) as e:
    raise ValueError(f"model.grouping.file {path}: not a groups JSON file ({e})") from None
  if not isinstance(names, list) or sorted(map(str, names)) != sorted(skel.joints):
    names = names if isinstance(names, list) else []
    missing = [n for n in skel.joints if n not in names]
    extra = [n for n in names if n not in skel.joints]
    raise ValueError(f"model.grouping.file {path}: its joints are not those of the "
                     f"{skel.name} skeleton of this dataset (missing {missing}, unknown {extra}); "
                     f"write it for this dataset with python -m jaxpose.grouping "
                     f"--dataset=... --output={path}")
  loaded = load_groups(path, skel)
  return loaded.groups, loaded.mi


def resolve_config(config: ml_collections.ConfigDict,
                   saved: Optional[ml_collections.ConfigDict] = None
                   ) -> tuple[ml_collections.ConfigDict, Optional[Resolution]]:
  """A copy of ``config`` with ``model.groups`` filled in from ``model.grouping``.

  Args:
    config: a run config; returned unchanged (same object) when ``model.grouping`` is
      absent or ``model.groups`` is already set.
    saved: the config stored with the run's latest checkpoint, if any. When its
      ``model.grouping`` equals this one, its groups are taken as they are (a resumed run
      keeps its groups, whatever the data or the code now give); otherwise the groups
      are computed and the trainer's compatibility check reports the difference.

  Returns:
    (config, resolution): resolution is None when nothing was resolved.
  """
  grouping = config.model.get("grouping")
  if grouping is None or is_resolved(config.model):
    return config, None
  saved_model = saved.get("model") if saved is not None else None
  if (saved_model is not None and is_resolved(saved_model)
      and _as_dict(saved_model.get("grouping")) == _as_dict(grouping)):
    stored = tuple(tuple(int(j) for j in g) for g in saved_model.groups)  # order kept exactly
    res = Resolution(stored, None, "the groups stored with the run's latest checkpoint")
  else:
    res = compute(grouping, config.data)
  out = config.copy_and_resolve_references()
  with out.unlocked():
    out.model.groups = res.groups
  return out, res


def describe(res: Resolution, skel: skeleton_lib.Skeleton) -> str:
  """Several lines: where the groups came from and each group by joint names."""
  lines = [f"part groups ({res.source}):"]
  lines += [f"  {i + 1}: {', '.join(names)}" for i, names in
            enumerate(group_names(res.groups, skel))]
  return "\n".join(lines)


def resolve_for_training(config: ml_collections.ConfigDict,
                         saved: Optional[ml_collections.ConfigDict], workdir: str,
                         chief: bool = True) -> tuple[ml_collections.ConfigDict, bool]:
  """The trainer's one call about part groups, made for every model at start-up, before the
  model is built and the config is saved: ``(config, resolved)``.

  A config with ``model.grouping`` and no ``model.groups`` yet (PBN, Tang & Wu §3.1) comes back
  as a copy with explicit groups (``resolve_config``; ``saved``, the config of the run's latest
  checkpoint, keeps a resumed run's groups), so every checkpoint carries the groups it was
  trained with, and ``resolved`` is True: the model it describes has changed since the config
  was checked (``config_check.check_training`` leaves an unresolved model to the trainer).
  The chief prints where the groups came from and, for a new run, writes them to
  ``WORKDIR/groups.json`` (names and MI, the grouping CLI's format). Any other config is
  returned unchanged, ``resolved`` False.
  """
  from jaxpose.data import datasets  # tf-free registry
  config, res = resolve_config(config, saved)
  if res is not None and chief:
    skel = datasets.skeleton(config.data)
    print(describe(res, skel), flush=True)
    if saved is None:
      save_groups(os.path.join(workdir, "groups.json"), res.groups, skel, res.mi,
                  source=res.source, grouping=config.model.grouping.to_dict())
  return config, res is not None


def _as_dict(section) -> dict:
  """A JSON-normalised plain dict (tuples → lists), so saved and current specs compare."""
  if section is None:
    return {}
  if hasattr(section, "to_dict"):
    section = section.to_dict()
  return json.loads(json.dumps(dict(section), default=list))
