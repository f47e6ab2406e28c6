"""The blocks several recipes share: each one sets a group of keys of a config (``c``) in place and
returns it. Not a recipe (no ``get_config``; ``configs.names()`` leaves it out).

Every recipe (and a user's own config file anywhere) builds on ``default`` or on a family's base
recipe and applies what it needs of these::

  from jaxpose.configs import common, default

  def get_config():
    c = default.get_config()
    common.lsp_protocol(c)
    common.cpu_budget(c, features=64, steps=2000)
    return c

Inheritance (a recipe's ``get_config`` calling another's) is at most three deep counting
``default``: a variant → its family's base recipe → ``default`` (tests/cli/test_configs.py).
"""


def lsp_protocol(c, metrics=("pck@0.2", "hard10_pck@0.2", "pcp@0.5")):
  """The usual LSP protocol: train on LSP train + LSP extended (11,000 people), test on the
  1,000 LSP test images, 14 joints. LSP has no validation split, so evaluation reports the
  latest checkpoint: picking the best one on the test split would flatter."""
  c.model.num_joints = 14
  c.data.name = "lsp_lspet"
  c.data.train_split = "train"
  c.data.eval_split = "test"
  # LSPET im08075.jpg labels its r_knee 145 px right of its 241-px image, which the readers
  # refuse (jaxpose/data/sources/common.py, OUTSIDE_MARGIN): skipped, and the skip logged
  c.data.on_error = "skip"
  c.eval.checkpoint = "latest"
  c.eval.metrics = tuple(metrics)
  return c


def paper_scale(c):
  """The sizes of the stacked-hourglass papers (Newell et al. 2016; PBN and MSN keep them):
  256×256 crops (the synthetic images too), 64×64 heat maps with σ = 1 heat-map pixel, RMSProp
  2.5e-4, batch 16 — configs/hourglass.py, pbn_mpii.py, msn_mpii.py."""
  c.data.image_size = 256
  c.data.heatmap_size = 64
  c.data.sigma = 1.0
  c.data.synthetic.image_size = 256
  c.train.optimizer = "rmsprop"
  c.train.learning_rate = 2.5e-4
  c.train.batch_size = 16
  return c


def cpu_budget(c, features: int, steps: int):
  """The reduced size of the CPU recipes (configs/lsp_cpu.py, *_lsp_cpu.py): 2 stacks of
  ``features`` channels, 128×128 crops, 32×32 heat maps, batch 8, RMSProp 1e-3 with 100 warm-up
  steps and ÷10 for the last fifth — the default recipe's choices, which leave the early
  empty-heat-map plateau within a few hundred steps."""
  c.model.num_stacks = 2
  c.model.features = features
  c.data.image_size = 128
  c.data.heatmap_size = 32
  c.train.optimizer = "rmsprop"
  c.train.learning_rate = 1e-3
  c.train.batch_size = 8
  c.train.num_epochs = -1
  c.train.num_steps = steps
  c.train.schedule.update(name="piecewise", warmup_steps=100, boundaries=(0.8,),
                          boundary_unit="fraction")
  c.train.eval_every = 2000
  c.train.checkpoint_every = 2000
  c.train.log_every = 100
  return c


def pbn_comparison(c):
  """The reduced PBN comparison on LSP (issue #17; Tang & Wu 2019 §4.3 in small), applied to
  configs/pbn_mpii.py's config: the LSP protocol, the CPU budget with 128 channels and 4,000
  steps, single scale and no flip (§4.3's ablations test at one scale). configs/pbn_lsp_cpu.py
  is it; configs/cpm_lsp_cpu.py puts a CPM into it."""
  lsp_protocol(c)
  cpu_budget(c, features=128, steps=4000)
  c.eval.flip = False
  return c


def epoch_schedule(c, epochs: int, boundaries):
  """The paper-scale step decay: ``epochs`` epochs (``num_steps`` unset, so epochs decide the
  length), no warm-up, learning rate × ``train.schedule.decay`` (÷10) at each epoch in
  ``boundaries`` — the recipes of configs/lsp_hourglass.py (200 epochs, ÷10 at 150 and 190),
  msn_mpii.py (Ke et al. 2018 §3: 100 epochs "with decay") and pbn_mpii.py (Tang & Wu 2019
  §4.1: 250 epochs, ÷10 at 170 and 220)."""
  c.train.num_steps = -1
  c.train.num_epochs = epochs
  c.train.schedule.update(name="piecewise", warmup_steps=0, boundaries=tuple(boundaries),
                          boundary_unit="epoch")
  return c


def regressor_cpu_budget(c, steps: int = 2000, batch_size: int = 16, *,
                         learning_rate: float = 3e-4, batch_norm: bool = True):
  """The reduced comparison of the four regressors on a 2-core CPU
  (configs/regressor_*_lsp_cpu.py, and DeepPose's and HMLPE's CPU budgets): ``steps`` of batch
  ``batch_size`` in each phase (32,000 crops, about three epochs of LSP + LSPET) with Adam
  ``learning_rate`` and no weight decay, 100 warm-up steps and ÷10 for the last fifth; one
  checkpoint at the end. Only the networks differ (AlexNet and VGG-19 thinned to fit).

  ``batch_norm`` (the regressors' ``model.batch_norm``, BatchNorm after every convolution, and
  ``model.dropout_rate`` = 0): without it these networks learn nothing from scratch at this
  budget. The paper-scale recipes keep the originals' layers (``--config.model.batch_norm=True``
  gives them BatchNorm too, as ``torchvision``'s ``vgg*_bn``). Measurements behind these choices
  (the collapse without BatchNorm, Adam against SGD, step times): docs/results/regressors.md,
  "Why the CPU recipe"."""
  if batch_norm:
    c.model.batch_norm = True
    c.model.dropout_rate = 0.0
  c.train.optimizer = "adam"
  c.train.learning_rate = learning_rate
  c.train.weight_decay = 0.0
  c.train.batch_size = batch_size
  c.train.num_epochs = -1
  c.train.num_steps = steps
  c.train.schedule.update(name="piecewise", warmup_steps=100, boundaries=(0.8,),
                          boundary_unit="fraction")
  c.train.checkpoint_every = steps
  c.train.log_every = 100
  return c
