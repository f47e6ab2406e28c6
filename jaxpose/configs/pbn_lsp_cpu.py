"""The reduced PBN comparison on LSP (Tang & Wu 2019 §4.3 in small), sized for a 2-core CPU:
configs/pbn_lsp.py (configs/pbn_mpii.py on the LSP protocol) shrunk to 2 stacks of 128 channels
(branches W = 64, D = 1, the five "stat" groups of LSP+LSPET), 128×128 crops and 32×32 heat
maps, 4,000 steps of batch 8, RMSProp 1e-3 with ÷10 for the last fifth (the recipe of
configs/lsp_cpu.py, which leaves the early empty-heat-map plateau quickly; §4.1's 2.5e-4 for 250
epochs does not fit an hour): ``common.pbn_comparison``. The three networks share the trunk, the
stacking, the seed and the steps; only the heads differ (§4.3):

  python train.py --config=configs/pbn_lsp_cpu.py --workdir=runs/pbn_cmp_pbn
  python train.py --config=configs/pbn_lsp_cpu.py --workdir=runs/pbn_cmp_hg \
      --config.model.head=linear      # the baseline: branches removed, one linear layer
  python train.py --config=configs/pbn_lsp_cpu.py --workdir=runs/pbn_cmp_deep \
      --config.model.head=deep        # "Deep BS": a 256-channel residual block + linear layer

Each run ends with PCK@0.2, the ten-hard-joint mean of PCK@0.2 and PCP@0.5 on the LSP test split
(latest checkpoint, single scale, no flip: §4.3 ablations use single-scale testing).
"""
from jaxpose.configs import common, pbn_mpii


def get_config():
  c = pbn_mpii.get_config()
  c.name = "pbn_lsp_cpu"
  return common.pbn_comparison(c)
