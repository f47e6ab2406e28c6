"""A CPM in the reduced PBN comparison on LSP (issue #17), sized for a 2-core CPU: everything
but the network and the optimiser is configs/pbn_lsp_cpu.py — LSP train + LSP extended, the LSP test split,
128×128 crops and 32×32 maps (σ = 1 px), the same augmentation, seed, 4,000 steps of batch 8,
100 warm-up steps and ÷10 for the last fifth (the optimiser: below), PCK@0.2 / ten hard joints /
PCP@0.5 on the latest checkpoint, single scale, no flip — so the numbers sit beside the three
PBN-comparison runs. The network is configs/cpm_lsp.py's 6-stage CPM with two poolings instead
of three (input/4: 128 → 32, as the other models) and WIDTH conv1 channels instead of 64 (every
layer keeps the release's ratio to it). Its receptive field still covers the crop from stage 2
on (104 px at stage 1, +120 px per stage; jaxpose/models/cpm.py). Cost, measured in a real run
on this project's 2-core CPU (2026-12-02, alone on the machine): 1.46–1.5 s per step, i.e. about
100 minutes for the 4,000 steps — six times the PBN comparison's baseline step, not the "about
18 minutes" first estimated from CPU-time ratios under load (see ``WIDTH``).

The release's SGD recipe (configs/cpm_lsp.py) is not used: it fine-tuned ImageNet weights for
395,000 iterations; 4,000 steps from scratch need the recipe the other reduced runs share, with
one change: Adam 3e-4 with global-norm gradient clipping at 1 instead of RMSProp 1e-3. With
RMSProp this plain, BatchNorm-free network blew up in its first 100 steps (gradient norm 2,508,
loss 18.7; optax's RMSProp has no bias correction, so its first steps are about 3× the learning
rate per coordinate), then spiked again at steps 900, 2,300 and 2,800 and sat on the empty-belief
plateau (PCK@0.2 5.4 at step 2,000; runs/old_recipe/pbn_cmp_cpm_unstable). A 300-step A/B from
the same seed (2026-12-02): Adam 3e-4 + clip 1 kept the gradient norm at 1.1–3.3 and reached the
heat-map term of 0.0161 at step 200 (RMSProp: 0.0159 only at step 2,100); the same with
``model.batch_norm=True`` reached 0.0158, within the A/B's noise, so the release's plain network
is kept.

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
from jaxpose.configs import cpm_lsp, pbn_lsp_cpu

# conv1 channels: 1,130,118 parameters, 53 GFLOP per train step of batch 8 (XLA's estimate).
# A first estimate from CPU time per step under load (width 12 1.95 s against 1.77 s for the PBN
# comparison's baseline) predicted ≈ 18 min for the run; the real run took 1.46–1.5 s per wall
# step (≈ 36 GFLOP/s, against the hourglass's ≈ 200 on the idle CPU): CPU time was the wrong
# proxy, this network keeps only about one core busy (XLA's CPU convolutions at these small
# channel counts, 7×7 kernels on 32×32 maps). Faster convolutions are issue #20's work.
WIDTH = 12


def get_config():
  c = pbn_lsp_cpu.get_config()
  c.name = "cpm_lsp_cpu"
  c.model = cpm_lsp.get_config().model
  c.model.update(width=WIDTH, num_pools=2)
  c.train.optimizer = "adam"
  c.train.learning_rate = 3e-4
  c.train.grad_clip = 1.0
  c.train.checkpoint_every = 1000
  c.eval.stage = 0  # 0 = the last stage; t = stage t (see above)
  return c
