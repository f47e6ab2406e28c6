"""``python -m jaxpose.grouping``: the §3.1 "Stat" grouping of a dataset's annotations.

  python -m jaxpose.grouping --dataset=mpii --split=train --k=5 --plot=mi.png \\
      --output=groups.json

prints the groups, writes Fig. 2(a) (``--plot``) and 2(b) (``<stem>_groups.png``), and the
JSON file that a config reads with ``model.grouping.strategy="file"``.
"""
from __future__ import annotations

import os
from typing import Optional, Sequence

import numpy as np
from absl import app, flags

from jaxpose import runtime, skeleton as skeleton_lib
from jaxpose.errors import ConfigError, exit_on_user_error
from jaxpose.grouping.groups import group_names, save_groups
from jaxpose.grouping.mi import DEFAULT_EXTENT, default_normalization
from jaxpose.grouping.plot import plot_groups, plot_mi
from jaxpose.grouping.spectral import METHODS, groups_from_records


def _skeleton_for(num_joints: int, name: Optional[str], dataset: str) -> skeleton_lib.Skeleton:
  from jaxpose.data import sources
  entry = sources.DATASETS.get(dataset)
  name = name or (entry.skeleton if entry else None)
  if name:
    return skeleton_lib.get(name)
  for skel in skeleton_lib.SKELETONS.values():
    if skel.num_joints == num_joints:
      return skel
  raise ValueError(f"no skeleton with {num_joints} joints; pass --skeleton")


def _groups_path(plot: str) -> str:
  root, ext = os.path.splitext(plot)
  return f"{root}_groups{ext or '.png'}"


USAGE = "python -m jaxpose.grouping [flags]"


def flag_values() -> flags.FlagValues:
  """The flags of ``python -m jaxpose.grouping``, on a ``FlagValues`` of their own
  (``runtime.parse_flags``: nothing is defined on absl's global flags)."""
  fv = flags.FlagValues()
  flags.DEFINE_string("dataset", "mpii", "dataset name for read_split", flag_values=fv)
  flags.DEFINE_string("split", "train", "split of --dataset", flag_values=fv)
  flags.DEFINE_string("data_root", None, "folder of the raw files", flag_values=fv)
  flags.DEFINE_integer("k", 5, "number of groups", flag_values=fv)
  flags.DEFINE_integer("bins", 16, "lattice side (16 in §3.1)", flag_values=fv)
  flags.DEFINE_enum("normalize", None, sorted(DEFAULT_EXTENT), "pose normalisation (default: "
                    "box for lsp*, else crop)", flag_values=fv)
  flags.DEFINE_float("extent", None, "side of the normalised square", flag_values=fv)
  flags.DEFINE_enum("method", "shi_malik", list(METHODS), "spectral clustering method",
                    flag_values=fv)
  flags.DEFINE_integer("seed", 0, "seed of the clustering", flag_values=fv)
  flags.DEFINE_integer("restarts", 10, "k-means restarts", flag_values=fv)
  flags.DEFINE_boolean("miller_madow", False, "bias-corrected MI (not the paper's)",
                       flag_values=fv)
  flags.DEFINE_string("skeleton", None, "skeleton name (default: the dataset's)", flag_values=fv)
  flags.DEFINE_string("plot", None, "MI matrix PNG; groups go to <stem>_groups.png",
                      flag_values=fv)
  flags.DEFINE_string("output", None, "JSON file for joints, groups and MI", flag_values=fv)
  return fv


@exit_on_user_error
def main(argv: Optional[Sequence[str]] = None) -> int:
  """``python -m jaxpose.grouping``: prints the groups and writes the plots and JSON."""
  args, rest = runtime.parse_flags(flag_values(), argv, USAGE, __doc__)
  if rest:
    raise app.UsageError(f"unexpected argument {rest[0]!r} (every input is a --flag)")
  if args.bins < 2:
    raise ConfigError(f"--bins={args.bins}: must be at least 2")

  from jaxpose.data import sources  # lazily: readers are optional for the library part
  records = sources.read_split(args.dataset, args.split, root=args.data_root)
  mode = args.normalize or default_normalization(args.dataset)
  num_joints = np.asarray(records[0].joints).shape[0]
  if not 1 <= args.k <= num_joints:
    raise ConfigError(f"--k={args.k}: must be between 1 and the {num_joints} joints of "
                      f"{args.dataset}")
  groups, mi = groups_from_records(records, args.k, bins=args.bins, mode=mode,
                                   extent=args.extent, seed=args.seed, restarts=args.restarts,
                                   method=args.method, miller_madow=args.miller_madow)
  skel = _skeleton_for(mi.shape[0], args.skeleton, args.dataset)
  print(f"{args.dataset}/{args.split}: {len(records)} poses, {mode} normalisation, "
        f"{args.bins}x{args.bins} lattice, {args.method} spectral clustering, k={args.k}")
  for i, names in enumerate(group_names(groups, skel)):
    print(f"  group {i + 1}: {', '.join(names)}")
  if args.plot:
    plot_mi(mi, skel.joints, args.plot)
    plot_groups(groups, skel, _groups_path(args.plot))
    print(f"wrote {args.plot} and {_groups_path(args.plot)}")
  if args.output:
    save_groups(args.output, groups, skel, mi, skeleton=skel.name, dataset=args.dataset,
                split=args.split, k=args.k, bins=args.bins, normalize=mode,
                extent=args.extent or DEFAULT_EXTENT[mode], method=args.method, seed=args.seed,
                num_poses=len(records), mi_units="nats", miller_madow=args.miller_madow)
    print(f"wrote {args.output}")
  return 0
