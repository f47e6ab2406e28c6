"""Stacked hourglass on LSP at paper scale, for an accelerator (Newell et al. 2016 recipe).

Train on LSP train + LSP extended (11,000 people), test on the 1,000 LSP test images with
PCK@0.2 (torso normaliser) and PCP@0.5: 256×256 crops, 64×64 Gaussian targets (σ = 1),
8 stacks, RMSProp 2.5e-4, batch 16, ÷10 at epochs 150 and 190 of 200 (not run on this CPU
machine; configs/lsp_cpu.py is the reduced recipe that is).

  python train.py --config=configs/lsp_hourglass.py --config.data.root=/path/to/data
(`data.root` holds `lsp/` and `lspet/` as released; default `$JAXPOSE_DATA`).
"""
from jaxpose.configs import common, hourglass


def get_config():
  c = hourglass.get_config()
  c.name = "lsp_hourglass"
  c.model.num_stacks = 8
  common.lsp_protocol(c)
  c.data.augment.update(scale=0.25, rotation=30.0, rotation_prob=0.6, flip=True)
  common.epoch_schedule(c, epochs=200, boundaries=(150, 190))
  c.train.eval_every = 5000
  c.train.checkpoint_every = 5000
  c.train.log_every = 100
  c.eval.flip = True
  return c
