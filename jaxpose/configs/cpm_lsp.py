"""Convolutional Pose Machines on LSP at paper scale, for an accelerator (Wei et al. 2016; the
released 6-stage VGG-based model, jaxpose/models/cpm.py). The CPM family's base recipe
(configs/cpm_lsp_cpu.py takes its network).

The usual LSP protocol (LSP train + LSP extended, 11,000 people; the 1,000 LSP test images with
PCK@0.2, the ten hard joints and PCP@0.5). The paper's LSP figure, trained on LSP only, is
84.32% PCK@0.2. Network: 368×368 crops, 6 stages, 14 joints + the background map, 46×46 beliefs
(input/8), σ = 1 belief pixel (8 crop pixels). Loss: intermediate supervision, every stage's
P + 1 beliefs against the ideal maps (§3.3, eq. 4–5; jaxpose.families.CPMFamily: loss terms
``heatmaps`` and ``background``).

Optimiser: the released training recipe (training/genProto.py of
shihenw/convolutional-pose-machines-release): SGD, momentum 0.9, batch 16, base lr 8e-5, weight
decay 5e-4, learning rate × 0.333 every ``stepsize`` = 136,106 iterations (its MPII value, "should
depend on your dataset size"); the released LSP model is ``pose_iter_395000`` (testing/config.m),
so 395,000 iterations with decays at 136,106 and 272,212. One conversion, one departure:

- Loss scale. Caffe's ``EuclideanLoss`` is Σ (b − b*)² / (2·B) over all pixels and channels of a
  stage; jaxpose's heat-map terms are means over the B·h·w·K joint-map pixels (``losses``), so
  the release's loss is ours × h·w·K/2 = 46·46·14/2 = 14,812, and plain SGD is linear in that
  scale: the same steps take lr = 8e-5 × 14,812 = 1.185. Weight decay enters the step as
  lr·wd·w in both (optax.add_decayed_weights before SGD, as Caffe), so wd = 5e-4 / 14,812 =
  3.38e-8 keeps lr·wd = 4e-8. ``get_config`` computes both from ``data.heatmap_size`` and the
  joints; a command-line override of those does not rescale them.
- The release's per-layer learning-rate multipliers are not reproduced: biases at 2×, and in
  genProto.py's (pre-VGG) layout stage 1 at 5×.

What the release did that this recipe cannot: its trunk carries VGG-19's layer names and its
N(0, 0.01²) fillers would starve a network this deep trained from scratch (the model author's
note in jaxpose/models/cpm.py), so it evidently started from ImageNet weights; jaxpose has none and
trains from He initialisation. From scratch at the converted lr the first steps may need a
warm-up (``--config.train.schedule.warmup_steps=2000``) — untested here (no accelerator).
Augmentation after genProto.py's ``transform_param``: scale ±0.3 (0.7 … 1.3), rotation ±40° on
every example, no colour jitter; horizontal flip as in every jaxpose recipe. Test: single
scale, no flip (the release's benchmark searches scales instead: ``evaluate.py --multiscale``).

  python train.py --config=configs/cpm_lsp.py --workdir=runs/cpm_lsp \
      --config.data.root=/path/to/data
  python evaluate.py --workdir=runs/cpm_lsp      # the last stage; per stage: configs/cpm_lsp_cpu.py

(`data.root` holds `lsp/` and `lspet/` as released; default `$JAXPOSE_DATA`.)
"""
import ml_collections

from jaxpose.configs import common, default

RELEASE_LR, RELEASE_WEIGHT_DECAY = 8e-5, 5e-4


def loss_scale(heatmap_size: int, num_joints: int) -> float:
  """Caffe ``EuclideanLoss`` (Σ / 2B) over jaxpose's per-joint-map-pixel mean: h·w·K / 2."""
  return heatmap_size * heatmap_size * num_joints / 2.0


def get_config():
  c = default.get_config()
  c.name = "cpm_lsp"
  c.model = ml_collections.ConfigDict({
      "name": "cpm", "num_joints": 14, "num_stages": 6, "width": 64, "num_pools": 3,
      "batch_norm": False, "dtype": "float32", "layer_forms": "auto"})
  common.lsp_protocol(c)
  c.data.image_size = 368
  c.data.heatmap_size = 46
  c.data.sigma = 1.0
  c.data.augment.update(scale=0.3, rotation=40.0, rotation_prob=1.0, shear=0.0, flip=True,
                        color=0.0)
  scale = loss_scale(c.data.heatmap_size, c.model.num_joints)
  c.train.optimizer = "sgd"
  c.train.momentum = 0.9
  c.train.learning_rate = RELEASE_LR * scale
  c.train.weight_decay = RELEASE_WEIGHT_DECAY / scale
  c.train.batch_size = 16
  c.train.num_epochs = -1
  c.train.num_steps = 395_000
  c.train.schedule.update(name="piecewise", warmup_steps=0, boundaries=(136_106, 272_212),
                          boundary_unit="step", decay=0.333)
  c.train.eval_every = 5000
  c.train.checkpoint_every = 5000
  c.train.log_every = 100
  c.eval.flip = False
  c.eval.stage = 0  # 0 = the last stage; t = stage t's beliefs (jaxpose.families.CPMFamily)
  return c
