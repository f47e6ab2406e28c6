"""PBN on LSP (Tang & Wu 2019 §4.1–4.2, Table 4): configs/pbn_mpii.py on the LSP protocol.

Train on LSP train + LSP extended (11,000 people), test on the 1,000 LSP test images with
PCK@0.2 (torso normaliser) and the mean PCK@0.2 of the ten hard joints (elbows, wrists, hips,
knees, ankles; the joints §4.3 reports on), plus PCP@0.5. Same network and recipe as MPII:
8 stacks, W = 64, D = 1, 256×256 input, 64×64 targets (σ = 1 px), RMSProp 2.5e-4, batch 16,
250 epochs ÷10 at 170 and 220, scale ±0.25, rotation ±30°, shear ±0.5, flip, colour jitter.

Groups: "stat" with k = 5 (the paper's cluster number) computed at start-up from the LSP +
LSPET training annotations of the 14 LSP joints (no pelvis, thorax or upper neck; "box" pose
normalisation, as LSP has no person centre and scale). On the released files they are

  right knee + ankle | left knee + ankle | both hips | both elbows + wrists |
  head top + neck + both shoulders

(the legs split and the arms join, where MPII's k = 5 keeps the legs together and splits the
arms; k = 6 gives MPII's Fig. 2b grouping with the legs split). `model.grouping` and every
§4.3 ablation switch are as in configs/pbn_mpii.py.

  python train.py --config=configs/pbn_lsp.py --config.data.root=/path/to/data
(`data.root` holds `lsp/` and `lspet/` as released; default `$JAXPOSE_DATA`).
"""
from jaxpose.configs import common, pbn_mpii


def get_config():
  c = pbn_mpii.get_config()
  c.name = "pbn_lsp"
  return common.lsp_protocol(c)
