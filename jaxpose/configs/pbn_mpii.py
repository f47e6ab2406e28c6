"""PBN on MPII as Tang & Wu 2019 §4.1: 8 stacks, W = 64, D = 1, five MI groups (Fig. 2b). The PBN
family's base recipe: configs/pbn_lsp.py, pbn_lsp_cpu.py (and cpm_lsp_cpu.py's comparison) build
on it.

256×256 input, 64×64 Gaussian targets (σ = 1 px), RMSProp 2.5e-4, batch 16, 250 epochs with
÷10 at epochs 170 and 220; augmentation scale ±0.25, rotation ±30°, shear ±0.5, flip, colour
jitter. MPII images are not shipped with the annotations: point `data.root` at a folder with
the annotations and `images/`.

Part groups (§3.1) are computed at start-up from the training annotations of `data` (mutual
information + spectral clustering, k = 5: on MPII train exactly Fig. 2b) and stored in
`model.groups` of the config saved with every checkpoint; a resumed run keeps them.
`model.grouping` (see `jaxpose/grouping/resolve.py`) holds the strategy:

  strategy     "stat" (k, seed, method, bins, normalize, split) | "body" (the six handcrafted
               groups) | "file" (file = a JSON of python -m jaxpose.grouping --output=...) |
               "explicit" (model.groups as written, e.g. --config.model.groups="((0,1),(2,))")
  overlap      "none" | "paper" (§4.3: shoulders also join their arm's group) | "affinity"

The §4.3 ablations (Fig. 5; the paper runs them with 3 stacks) are one flag each:

  D, W                 --config.model.branch_depth=2 --config.model.branch_width=128
  number of groups     --config.model.grouping.k=8                 (2, 5, 8, 16)
  grouping strategy    --config.model.grouping.strategy=body      (stat | body)
  overlapping groups   --config.model.grouping.overlap=paper
  feature fusion path  --config.model.fusion=specific             (shared | specific | both)
  number of stacks     --config.model.num_stacks=3
  specific layers?     --config.model.head=linear                 (branches | linear | deep)
"""
from jaxpose.configs import common, default
from jaxpose.grouping import resolve


def get_config():
  c = default.get_config()
  c.name = "pbn_mpii"
  common.paper_scale(c)
  c.model = c.model.__class__({
      "name": "pbn", "num_joints": 16, "num_stacks": 8, "features": 256, "branch_width": 64,
      "branch_depth": 1, "depth": 4, "num_blocks": 1, "head": "branches", "fusion": "shared",
      "dtype": "float32",
      "layer_forms": "auto",
      # () until the trainer resolves model.grouping at start-up.
      "groups": (), "grouping": resolve.spec("stat", k=5, seed=0)})
  c.data.name = "mpii"
  c.data.train_split = "train"
  c.data.eval_split = "validation"
  c.data.augment.update(scale=0.25, rotation=30.0, rotation_prob=1.0, shear=0.5, flip=True,
                        color=0.2)
  c.train.learning_rate = 2.5e-4
  c.train.batch_size = 16
  common.epoch_schedule(c, epochs=250, boundaries=(170, 220))
  c.train.eval_every = 5000
  c.train.checkpoint_every = 5000
  c.train.log_every = 100
  c.eval.flip = True
  c.eval.metrics = ("pckh@0.5", "pckh@0.1", "auc", "pckh_occluded@0.5", "hard10@0.5")
  return c
