"""The reduced multi-scale-supervision ablation on LSP (Ke et al. 2018, Fig. 4 in small), sized
for a 2-core CPU: configs/msn_lsp.py shrunk to 2 conv-deconv stacks of 64 channels, 128×128 crops
and 32×32 heat maps (so GT/2, GT/4, GT/8 are 16², 8², 4²), 3,000 steps of batch 8 with RMSProp
1e-3 and ÷10 for the last fifth. The optimizer departs from §3 (Adam 5e-4) on purpose: at this
size and budget Adam 5e-4 had not left the early plateau where the network predicts empty heat
maps, while the default recipe's RMSProp 1e-3 with batch 8 leaves it within a few hundred steps
(the figures: docs/results/msn.md).
Every run of the ablation uses this config, the same seed and the same steps; only the
supervised scales and the regression switch change:

  python train.py --config=configs/msn_lsp_cpu.py --workdir=runs/msn_gt \
      --config.model.supervised_scales=1 --config.model.regression=False
  python train.py --config=configs/msn_lsp_cpu.py --workdir=runs/msn_gt2 \
      --config.model.supervised_scales=2 --config.model.regression=False
  python train.py --config=configs/msn_lsp_cpu.py --workdir=runs/msn_gt4 \
      --config.model.supervised_scales=3 --config.model.regression=False
  python train.py --config=configs/msn_lsp_cpu.py --workdir=runs/msn_gt4_reg \
      --config.model.supervised_scales=3 --config.model.regression=True

(`supervised_scales=1, regression=False` is the plain stacked hourglass.) Each run ends with
PCK@0.2, PCP@0.5 and the ten-hard-joint mean on the LSP test split (latest checkpoint, no flip).
"""
from jaxpose.configs import common, msn_mpii


def get_config():
  c = msn_mpii.get_config()
  c.name = "msn_lsp_cpu"
  common.lsp_protocol(c)  # configs/msn_lsp.py
  common.cpu_budget(c, features=64, steps=3000)
  c.train.eval_every = c.train.checkpoint_every = 3000
  c.model.supervised_scales = 3
  c.model.regression = True
  c.train.log_every = 50
  c.eval.flip = False
  return c
