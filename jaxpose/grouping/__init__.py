"""Groups of related body parts for the part-based branching network (PBN).

Tang & Wu, "Does Learning Specific Features for Related Parts Help Human Pose
Estimation?", CVPR 2019, §3.1 gives two ways to decide which joints share a branch:

* **Body** (handcrafted): six groups of joints connected in the body skeleton
  (``body_groups``, in ``groups.py``).
* **Stat** (data-driven): treat each joint location ``l_m`` as a random variable on
  a normalised 16×16 lattice, estimate the pairwise histograms ``p(l_m, l_n)`` from
  annotations, compute the mutual information (eq. 1), drop the diagonal and
  normalise linearly to [0, 1] (Fig. 2a) (``joint_mutual_information``, ``affinity``,
  in ``mi.py``), and split that affinity matrix into k groups by spectral clustering
  (Fig. 2b) (``spectral_groups``, ``groups_from_records``, in ``spectral.py``).

§4.3 also tries *overlapping* groups: each shoulder joins the group of the elbow and
wrist on its side as well as keeping its own (``paper_overlap``); ``expand_overlap``
is the general, affinity-driven version of the same idea.

The package, one job per module: ``groups`` (canonical form, handcrafted groups,
overlap, the JSON file), ``mi`` (pose normalisation, lattice, MI, affinity),
``spectral`` (k-means, spectral embedding and clustering), ``plot`` (Fig. 2 as PNG),
``resolve`` (a config's ``model.grouping`` → ``model.groups`` at training start-up),
``cli`` (``python -m jaxpose.grouping``).

Measured on the MPII training annotations (22,246 people, "crop" normalisation, 16×16
lattice, plug-in MI), ``shi_malik`` with k = 5 gives exactly the groups of Fig. 2(b)
for seeds 0–4 alike; ``njw`` puts the left shoulder with the left elbow and
wrist instead. With k = 6 both split the legs into left and right and keep head top
and upper neck with the thorax — unlike the §3.1 text, because in these estimates
upper neck–thorax (0.97) and head top–upper neck (0.96) are the strongest pairs after
pelvis–hips, while ankle–ankle is 0.65 and knee–knee 0.51 (normalised affinities;
``python -m jaxpose.grouping --dataset=mpii --k=5 --plot=mi.png`` reproduces them).

On LSP train + LSPET (11,000 people, "box" normalisation; LSP has no pelvis, thorax or
upper neck, only "neck"), k = 5 gives right leg, left leg, hips, the four arm joints
(both elbows and wrists) and head top + neck + shoulders: the legs split and the arms
join, where MPII keeps the legs together and splits the arms. k = 6 gives Fig. 2(b)'s
five groups with the legs split left/right (as MPII does at k = 6); k = 4 pairs each
leg with the opposite arm.

Command line::

  python -m jaxpose.grouping --dataset=mpii --split=train --k=5 --plot=mi.png \\
      --output=groups.json
"""
from jaxpose.grouping.groups import (BODY_GROUPS, Grouping, Groups, body_groups, canonical,
                                     expand_overlap, group_names, load_groups, paper_overlap,
                                     save_groups)
from jaxpose.grouping.mi import (DEFAULT_EXTENT, affinity, default_normalization,
                                 joint_mutual_information, lattice_cells,
                                 mutual_information_discrete, normalize_poses, records_arrays)
from jaxpose.grouping.spectral import (METHODS, groups_from_records, kmeans, spectral_embedding,
                                       spectral_groups)
from jaxpose.grouping.plot import canonical_pose, plot_groups, plot_mi
from jaxpose.grouping.resolve import (OVERLAPS, STRATEGIES, Resolution, check_spec, compute,
                                      describe, is_resolved, resolve_config,
                                      resolve_for_training, spec)
from jaxpose.grouping.cli import main

__all__ = [
    "BODY_GROUPS", "DEFAULT_EXTENT", "METHODS", "OVERLAPS", "STRATEGIES", "Grouping", "Groups",
    "Resolution", "affinity", "body_groups", "canonical", "canonical_pose", "check_spec",
    "compute", "default_normalization", "describe", "expand_overlap", "group_names",
    "groups_from_records", "is_resolved", "joint_mutual_information", "kmeans", "lattice_cells",
    "load_groups", "main", "mutual_information_discrete", "normalize_poses", "paper_overlap",
    "plot_groups", "plot_mi", "records_arrays", "resolve_config", "resolve_for_training",
    "save_groups", "spec", "spectral_embedding", "spectral_groups",
]
