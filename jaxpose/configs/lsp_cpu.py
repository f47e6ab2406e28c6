"""A reduced LSP recipe that trains within an hour on a 2-core CPU (issue #3's first real result).

The usual protocol: train on LSP train (1,000) + LSP extended (10,000), test on the 1,000 LSP test
images with PCK@0.2 (torso normaliser: left shoulder to right hip) and PCP@0.5. Reduced from
configs/lsp_hourglass.py (8 stacks, 256×256, 200 epochs) to what a CPU hour affords:

- 2-stack hourglass, 128 feature channels, 128×128 crops and 32×32 heat maps (σ = 1 px). LSP's
  people are about 150 px tall, so a 128-pixel crop loses little; LSPET's are larger.
- Batch 8 for 8,000 steps (about 5.8 epochs), RMSProp 1e-3: the default recipe's choices, which
  escape the early all-zero-heat-map plateau quickly (at this size Adam 5e-4 with batch 16 was
  still on it after 1,500 steps: 5.6% PCK@0.2); 100 warm-up steps, ÷10 for the last fifth.
- Augmentation as the paper-scale recipe: scale ±0.25, rotation ±30° (p = 0.6), flip, colour.
- The LSP test split is watched during training but never used to pick a checkpoint: evaluation
  reports the *latest* one (LSP has no validation split; choosing the best on test would flatter).

  python train.py --config=configs/lsp_cpu.py --workdir=runs/lsp_cpu
  python evaluate.py --workdir=runs/lsp_cpu --dataset=lsp --split=test --flip \
      --metrics=pck@0.2,pcp@0.5

`data.root` (default `$JAXPOSE_DATA`, else ../shared/data) holds `lsp/` and `lspet/` as released.
"""
from jaxpose.configs import common, default


def get_config():
  c = default.get_config()
  c.name = "lsp_cpu"
  common.lsp_protocol(c)
  common.cpu_budget(c, features=128, steps=8000)
  c.eval.flip = True
  return c
