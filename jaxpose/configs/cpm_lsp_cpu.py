"""A CPM in the reduced PBN comparison on LSP (issue #17), sized for a 2-core CPU: everything
but the network and the optimiser is configs/pbn_lsp_cpu.py's (``common.pbn_comparison`` on
configs/pbn_mpii.py) — LSP train + LSP extended, the LSP test split, 128×128 crops and 32×32 maps
(σ = 1 px), the same augmentation, seed, 4,000 steps of batch 8, 100 warm-up steps and ÷10 for
the last fifth (the optimiser: below), PCK@0.2 / ten hard joints / PCP@0.5 on the latest
checkpoint, single scale, no flip — so the numbers sit beside the three PBN-comparison runs. The
network is configs/cpm_lsp.py's 6-stage CPM with two poolings instead of three (input/4: 128 →
32, as the other models) and WIDTH conv1 channels instead of 64 (every layer keeps the release's
ratio to it). Its receptive field still covers the crop from stage 2 on (104 px at stage 1, +120
px per stage; jaxpose/models/cpm.py). About 100 minutes for the 4,000 steps on this project's
2-core CPU.

The release's SGD recipe (configs/cpm_lsp.py) is not used: it fine-tuned ImageNet weights for
395,000 iterations; 4,000 steps from scratch need the recipe the other reduced runs share, with
one change: Adam 3e-4 with global-norm gradient clipping at 1 instead of RMSProp 1e-3, which blew
this plain, BatchNorm-free network up; ``model.batch_norm`` stays off (the release's plain
network). The measurements behind both (step cost, the RMSProp run, the 300-step A/B):
docs/results/cpm.md, "Why this recipe".

  python train.py --config=configs/cpm_lsp_cpu.py --workdir=runs/pbn_cmp_cpm

Per-stage PCK@0.2 (does each stage refine?): ``eval.stage`` = t makes the family predict from
stage t (``jaxpose.families.CPMFamily``; flip and multi-scale tests apply as usual):

  python - <<'EOF'
  from jaxpose import inference
  config, variables, step, _ = inference.restore("runs/pbn_cmp_cpm")
  for t in range(1, config.model.num_stages + 1):
    c = config.copy_and_resolve_references()
    c.eval.stage = t
    r = inference.evaluate(inference.Predictor(c, variables, step), "test", ["pck@0.2"])
    print(f"stage {t}: PCK@0.2 {r['metrics']['PCK@0.2']['Total']:.2f}")
  EOF
"""
from jaxpose.configs import common, cpm_lsp, pbn_mpii

# conv1 channels: 1,130,118 parameters, 53 GFLOP per train step of batch 8 (its cost on a CPU:
# docs/results/cpm.md).
WIDTH = 12


def get_config():
  c = pbn_mpii.get_config()
  common.pbn_comparison(c)
  c.name = "cpm_lsp_cpu"
  c.model = cpm_lsp.get_config().model
  c.model.update(width=WIDTH, num_pools=2)
  c.train.optimizer = "adam"
  c.train.learning_rate = 3e-4
  c.train.grad_clip = 1.0
  c.train.checkpoint_every = 1000
  c.eval.stage = 0  # 0 = the last stage; t = stage t (see above)
  return c
