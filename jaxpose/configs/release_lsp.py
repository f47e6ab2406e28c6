"""The recipe of the released LSP model (``jaxpose/zoo/lsp``, issue #38): the best network and
schedule found to train on LSP train + LSPET (11,000 people) within about 2.5 hours of this
project's 2-core CPUs, with ``train.py`` as it is — configs/lsp_cpu.py with 14,000 steps.

  python train.py --config=configs/release_lsp.py --workdir=runs/release_lsp
  python evaluate.py --workdir=runs/release_lsp --dataset=lsp --split=test --flip
  python -m jaxpose.export --workdir=runs/release_lsp --release=jaxpose/zoo/lsp

The network: a 2-stack hourglass of 128 channels with the linear head, 128×128 crops and 32×32
heat maps (1.70 M parameters, 6.8 MB as float32 msgpack; the package may hold at most 10 MB).
RMSProp 1e-3 with 100 warm-up steps and ÷10 for the last fifth, batch 8, the augmentation of
configs/lsp_cpu.py. Decoded with DARK's sub-pixel step (``eval.subpixel = "dark"``, the
default). How it was chosen (the A/B runs), the run and its figures:
docs/results/hourglass.md, "The released LSP model".
"""
from jaxpose.configs import common, lsp_cpu


def get_config():
  c = lsp_cpu.get_config()
  c.name = "release_lsp"
  common.cpu_budget(c, features=128, steps=14000)
  c.train.eval_every = 7000
  c.train.checkpoint_every = 1000
  c.eval.flip = True
  return c
