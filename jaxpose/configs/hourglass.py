"""Newell et al. 2016 stacked hourglass at paper scale (256×256, 64×64 heatmaps): the hourglass
family's base recipe (configs/lsp_hourglass.py builds on it).

The synthetic data stays the default dataset; point it at real data with
`--config.data.name=... --config.data.root=...` (see configs/lsp_*.py when present).
"""
from jaxpose.configs import common, default


def get_config():
  c = default.get_config()
  c.name = "hourglass"
  c.model.num_stacks = 2
  c.model.features = 256
  common.paper_scale(c)
  c.train.num_steps = 20000
  return c
