"""Multi-scale supervised network on LSP: configs/msn_mpii.py (Ke et al. 2018 §2–§3: 4 stacks of
64 channels, supervision at GT … GT/8, global keypoint regression; Adam 5e-4 with step decay,
100 epochs) on the usual LSP protocol: LSP train + LSP extended (11,000 people) for training, the
1,000 LSP test images with PCK@0.2 (torso normaliser) and PCP@0.5. The paper reports MPII and FLIC
only; LSP is where this library's reduced ablation runs (README, issue #5).

  python train.py --config=configs/msn_lsp.py --workdir=runs/msn_lsp
"""
from jaxpose.configs import common, msn_mpii


def get_config():
  c = msn_mpii.get_config()
  c.name = "msn_lsp"
  return common.lsp_protocol(c)
