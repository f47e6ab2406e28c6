"""Recipes (``get_config()`` per file) and the blocks several of them share."""


def lsp_protocol(c, metrics=("pck@0.2", "hard10_pck@0.2", "pcp@0.5")):
  """The usual LSP protocol: train on LSP train + LSP extended (11,000 people), test on the
  1,000 LSP test images, 14 joints. LSP has no validation split, so evaluation reports the
  latest checkpoint: picking the best one on the test split would flatter."""
  c.model.num_joints = 14
  c.data.name = "lsp_lspet"
  c.data.train_split = "train"
  c.data.eval_split = "test"
  c.eval.checkpoint = "latest"
  c.eval.metrics = tuple(metrics)
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
