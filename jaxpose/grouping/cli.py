"""``python -m jaxpose.grouping``: the §3.1 "Stat" grouping of a dataset's annotations.

  python -m jaxpose.grouping --dataset=mpii --split=train --k=5 --plot=mi.png \\
      --output=groups.json

prints the groups, writes Fig. 2(a) (``--plot``) and 2(b) (``<stem>_groups.png``), and the
JSON file that a config reads with ``model.grouping.strategy="file"``.
"""
from __future__ import annotations

import argparse
import os
from typing import Optional, Sequence

import numpy as np

from jaxpose import skeleton as skeleton_lib
from jaxpose.errors import ConfigError, exit_on_user_error
from jaxpose.grouping.groups import group_names, save_groups
from jaxpose.grouping.mi import DEFAULT_EXTENT, default_normalization
from jaxpose.grouping.plot import plot_groups, plot_mi
from jaxpose.grouping.spectral import METHODS, groups_from_records

_DESCRIPTION = ("Part groups from the mutual information of joint locations "
                "(Tang & Wu 2019, sec. 3.1).")


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


@exit_on_user_error
def main(argv: Optional[Sequence[str]] = None) -> int:
  """``python -m jaxpose.grouping``: prints the groups and writes the plots and JSON."""
  p = argparse.ArgumentParser(prog="python -m jaxpose.grouping", description=_DESCRIPTION)
  p.add_argument("--dataset", default="mpii", help="dataset name for read_split")
  p.add_argument("--split", default="train")
  p.add_argument("--data_root", default=None, help="folder of the raw files")
  p.add_argument("--k", type=int, default=5, help="number of groups")
  p.add_argument("--bins", type=int, default=16, help="lattice side (16 in §3.1)")
  p.add_argument("--normalize", choices=sorted(DEFAULT_EXTENT), default=None,
                 help="pose normalisation (default: box for lsp*, else crop)")
  p.add_argument("--extent", type=float, default=None, help="side of the normalised square")
  p.add_argument("--method", choices=METHODS, default="shi_malik")
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--restarts", type=int, default=10)
  p.add_argument("--miller_madow", action="store_true", help="bias-corrected MI (not the paper's)")
  p.add_argument("--skeleton", default=None, help="skeleton name (default: the dataset's)")
  p.add_argument("--plot", default=None, help="MI matrix PNG; groups go to <stem>_groups.png")
  p.add_argument("--output", default=None, help="JSON file for joints, groups and MI")
  args = p.parse_args(argv)
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
