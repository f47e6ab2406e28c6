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


# Chen et al. Table 2 reports the classification heads' accuracy; §3.5 scores locations at 1/12
# of the (square) input's height; PCK@0.2 is the usual LSP figure beside it.
REGRESSOR_METRICS = ("visibility", "pck_height@1/12", "pck@0.2")
PHASES = ("1", "2")


def regressor_lsp(name: str, model: str, image_size: int, phase: str = "1", **fields):
  """A coordinate regressor of Chen et al. (UCSD course report) on LSP, one of its two training
  phases (§3.3; ``two_phase``). ``name`` is the recipe (``regressor_alexnet_lsp``), ``model`` the
  registry name, ``fields`` the model's constructor fields.

  Paper scale (the report gives no optimiser settings beyond "stochastic gradient descent" and
  eq. 4's weight decay): SGD with momentum 0.9, learning rate 0.01, weight decay 5e-4 on the
  kernels and batch 128 — AlexNet's and VGG's own recipe (Krizhevsky et al. 2012 §5; Simonyan &
  Zisserman 2014 §3.1) — for 100 epochs, ÷10 at epochs 60 and 85, in each phase. Data: the
  library's LSP protocol (``lsp_protocol``: LSP train + LSPET for training, LSP test for
  evaluation, latest checkpoint). §3.1 trains on LSPET alone: ``--config.data.name=lspet
  --config.data.eval_split=train`` gives that (validation then watches the training images, the
  report's Fig. 9), and ``evaluate.py --dataset=lsp --split=test`` the test figures."""
  from configs import default
  import ml_collections
  c = default.get_config()
  c.model = ml_collections.ConfigDict(
      {"name": model, "num_joints": 14, "dtype": "float32", "regression": True, **fields})
  lsp_protocol(c, REGRESSOR_METRICS)
  c.data.image_size = image_size
  c.train.optimizer = "sgd"
  c.train.momentum = 0.9
  c.train.learning_rate = 0.01
  c.train.weight_decay = 5e-4
  c.train.batch_size = 128
  epoch_schedule(c, 100, (60, 85))
  c.train.eval_every = 0  # only at the end: the test split must not steer the run
  c.train.checkpoint_every = 2000
  c.train.log_every = 100
  c.eval.flip = True
  return two_phase(c, name, phase)


def two_phase(c, name: str, phase: str):
  """Chen et al. §3.3, "first train the classification head and then append two fully connected
  layers at the branch point to train regression head", as two runs of one recipe:

  - phase ``"1"``: ``model.regression=False`` (conv layers + classification head, eq. 5 only),
    nothing frozen; ``name`` ``<recipe>_p1``, so its default workdir is ``runs/<recipe>_p1``;
  - phase ``"2"``: ``model.regression=True`` (the ``reg_*`` branch appended at ``fc1``),
    ``train.trainable=("reg_",)`` (everything else frozen: bit-identical, BatchNorm statistics
    kept), ``init_from=runs/<recipe>_p1`` (override it when phase 1 ran elsewhere); the
    classification loss stays in the total but, frozen, only reports.

  Chosen on the command line as the config file's argument (ml_collections passes it to
  ``get_config``); every key stays overridable. For any of the recipes
  ``configs/regressor_{baseline1,baseline2,alexnet,vgg19}_lsp{,_cpu}.py``, R = its name:

    python train.py --config=configs/R.py:1 --workdir=runs/R_p1
    python train.py --config=configs/R.py:2 --workdir=runs/R_p2 --config.init_from=runs/R_p1

  Each run ends with visibility accuracy, PCK-height@1/12 and PCK@0.2 on the LSP test images
  (``evaluate.py --workdir=runs/R_p2`` again; phase 1 has no coordinates, so its PCKs are 0);
  ``python -m jaxpose.evaluation.compare runs/*_p2`` puts them side by side (Table 2)."""
  phase = str(phase)
  if phase not in PHASES:
    raise ValueError(f"{name}: phase {phase!r}; expected 1 or 2 (--config=configs/{name}.py:2)")
  c.name = f"{name}_p{phase}"
  c.model.regression = phase == "2"
  c.train.frozen = ()
  c.train.trainable = ("reg_",) if phase == "2" else ()
  c.init_from = f"runs/{name}_p1" if phase == "2" else ""
  return c


def regressor_cpu_budget(c, steps: int = 2000, batch_size: int = 16):
  """The reduced comparison of the four regressors on a 2-core CPU
  (configs/regressor_*_lsp_cpu.py): the same 112-pixel crops (set by the recipe), ``steps`` of
  batch ``batch_size`` in each phase (32,000 crops, about three epochs of LSP + LSPET) with Adam
  1e-3 and no weight decay, 100 warm-up steps and ÷10 for the last fifth; one checkpoint and the
  LSP-test evaluation at the end. Only the networks differ (AlexNet and VGG-19 thinned to fit).
  Train-step times measured here (batch 16, machine otherwise idle), phase 1 / phase 2 (which
  backpropagates through the regression branch only): Baseline-1 0.12 / 0.03 s, Baseline-2
  0.10 / 0.04 s, AlexNet 0.59 / 0.17 s, VGG-19 0.39 / 0.08 s — AlexNet's two phases about 25
  minutes together, the others under 15, plus input pipeline and evaluation.
  Adam rather than the paper-scale SGD: in a 250-step check on synthetic data (Baseline-1, 112
  px, batch 16, from the same phase-1 weights) phase 2 reached a coordinate loss of 0.014 with
  Adam 1e-3 against 0.018 with SGD 0.01 + momentum; phase 1 went alike with both."""
  c.train.optimizer = "adam"
  c.train.learning_rate = 1e-3
  c.train.weight_decay = 0.0
  c.train.batch_size = batch_size
  c.train.num_epochs = -1
  c.train.num_steps = steps
  c.train.schedule.update(name="piecewise", warmup_steps=100, boundaries=(0.8,),
                          boundary_unit="fraction")
  c.train.checkpoint_every = steps
  c.train.log_every = 100
  return c
