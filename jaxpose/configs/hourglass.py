"""Newell et al. 2016 stacked hourglass at paper scale (256×256, 64×64 heatmaps).

The synthetic data stays the default dataset; point it at real data with
`--config.data.name=... --config.data.root=...` (see configs/lsp_*.py when present).
"""
from jaxpose.configs import default


def get_config():
  c = default.get_config()
  c.name = "hourglass"
  c.model.num_stacks = 2
  c.model.features = 256
  c.data.image_size = 256
  c.data.heatmap_size = 64
  c.data.sigma = 1.0
  c.data.synthetic.image_size = 256
  c.train.optimizer = "rmsprop"
  c.train.learning_rate = 2.5e-4
  c.train.batch_size = 16
  c.train.num_steps = 20000
  return c
