"""Multi-scale supervised network on MPII as Ke et al. 2018 §3: 4 conv-deconv stacks of
64 channels (§3.2), supervision at GT, GT/2, GT/4, GT/8 (§2.1), global keypoint regression
(§2.2); Adam 5e-4 with step decay, 100 epochs, the standard augmentation. The MSN family's base
recipe: configs/msn_lsp.py, msn_lsp_cpu.py and msn_flic.py build on it."""
from jaxpose.configs import common, default


def get_config():
  c = default.get_config()
  c.name = "msn_mpii"
  common.paper_scale(c)
  c.model = c.model.__class__({
      "name": "msn", "num_joints": 16, "num_stacks": 4, "features": 64, "depth": 4,
      "num_blocks": 1, "supervised_scales": 4, "regression": True, "dtype": "float32",
      "layer_forms": "auto"})
  c.data.name = "mpii"
  c.data.train_split = "train"
  c.data.eval_split = "validation"
  c.data.pyramid_levels = 4
  c.train.optimizer = "adam"
  c.train.learning_rate = 5e-4
  common.epoch_schedule(c, epochs=100, boundaries=(60, 90))
  c.train.eval_every = 5000
  c.train.checkpoint_every = 5000
  c.train.log_every = 100
  c.eval.flip = True
  c.eval.metrics = ("pckh@0.5", "pckh@0.1", "auc", "pckh_occluded@0.5")
  return c
