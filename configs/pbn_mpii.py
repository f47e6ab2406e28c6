"""PBN on MPII as Tang & Wu 2019 §4.1: 8 stacks, W = 64, D = 1, five MI groups (Fig. 2b).

256×256 input, 64×64 Gaussian targets (σ = 1 px), RMSProp 2.5e-4, batch 16, 250 epochs with
÷10 at epochs 170 and 220; augmentation scale ±0.25, rotation ±30°, shear ±0.5, flip, colour
jitter. MPII images are not shipped with the annotations: point `data.root` at a folder with
the annotations and `images/`.
"""
from configs import hourglass


def get_config():
  c = hourglass.get_config()
  c.name = "pbn_mpii"
  c.model = c.model.__class__({
      "name": "pbn", "num_joints": 16, "num_stacks": 8, "features": 256, "branch_width": 64,
      "branch_depth": 1, "depth": 4, "num_blocks": 1, "head": "branches", "fusion": "shared",
      "dtype": "float32"})
  c.data.name = "mpii"
  c.data.train_split = "train"
  c.data.eval_split = "validation"
  c.data.augment.update(scale=0.25, rotation=30.0, rotation_prob=1.0, shear=0.5, flip=True,
                        color=0.2)
  c.train.learning_rate = 2.5e-4
  c.train.batch_size = 16
  c.train.num_steps = -1
  c.train.num_epochs = 250
  c.train.schedule.update(name="piecewise", warmup_steps=0, boundaries=(170, 220),
                          boundary_unit="epoch")
  c.train.eval_every = 5000
  c.train.checkpoint_every = 5000
  c.train.log_every = 100
  c.eval.flip = True
  c.eval.metrics = ("pckh@0.5", "pckh@0.1", "auc", "pckh_occluded@0.5", "hard10@0.5")
  return c
