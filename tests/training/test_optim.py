"""jaxpose/training/optim.py: the learning-rate schedules step by step (warm-up, piecewise in
epochs / steps / fractions, cosine), the optimizers' first updates against their formulas (Torch
RMSProp with eps outside the root, Adam, SGD + momentum), weight decay on kernels only, gradient
clipping, frozen parameters (no update, no state) and the log line that names them."""
import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from jaxpose.training import optim


def _train(**fields):
  return ml_collections.ConfigDict({"learning_rate": 1e-3, "optimizer": "adam", "frozen": (),
                                    "trainable": (), **fields})


def _lr(sched, steps):
  return [float(sched(s)) for s in steps]


def test_piecewise_fraction_schedule_with_warmup():
  # the default recipe's shape: 50 warm-up steps, ÷10 at 75 % of the run (step 300 of 400)
  cfg = _train(schedule={"name": "piecewise", "warmup_steps": 50, "boundaries": (0.75,),
                         "boundary_unit": "fraction", "decay": 0.1})
  lr = optim.schedule(cfg, total_steps=400, steps_per_epoch=7)
  np.testing.assert_allclose(_lr(lr, [0, 10, 25, 49, 50, 299, 300, 399]),
                             [0.0, 2e-4, 5e-4, 9.8e-4, 1e-3, 1e-3, 1e-4, 1e-4], rtol=1e-5)


@pytest.mark.parametrize("unit,boundaries,drops", [
    ("epoch", (2, 3), (20, 30)),        # 10 steps per epoch
    ("step", (5, 12), (5, 12)),
    ("fraction", (0.25, 0.5), (25, 50)),  # of 100 steps
])
def test_piecewise_boundaries_in_each_unit(unit, boundaries, drops):
  cfg = _train(learning_rate=0.5, schedule={"name": "piecewise", "warmup_steps": 0,
                                            "boundaries": boundaries, "boundary_unit": unit,
                                            "decay": 0.2})
  lr = optim.schedule(cfg, total_steps=100, steps_per_epoch=10)
  a, b = drops
  np.testing.assert_allclose(_lr(lr, [0, a - 1, a, b - 1, b, 99]),
                             [0.5, 0.5, 0.1, 0.1, 0.02, 0.02], rtol=1e-5)


def test_epoch_is_the_default_boundary_unit_and_warmup_keeps_absolute_boundaries():
  cfg = _train(learning_rate=1.0, schedule={"name": "piecewise", "warmup_steps": 4,
                                            "boundaries": (3,)})
  lr = optim.schedule(cfg, total_steps=100, steps_per_epoch=10)
  # warm-up 0 → 1 over 4 steps, then the drop at epoch 3 = step 30 counted from step 0
  np.testing.assert_allclose(_lr(lr, [0, 2, 4, 29, 30]), [0.0, 0.5, 1.0, 1.0, 0.1], rtol=1e-6)


def test_a_boundary_inside_the_warmup_and_coinciding_boundaries_still_decay():
  # a 60-step run of the default recipe: ÷10 at 75 % = step 45, inside the 50-step warm-up
  cfg = _train(schedule={"name": "piecewise", "warmup_steps": 50, "boundaries": (0.75,),
                         "boundary_unit": "fraction", "decay": 0.1})
  lr = optim.schedule(cfg, total_steps=60, steps_per_epoch=7)
  np.testing.assert_allclose(_lr(lr, [25, 49, 50, 59]), [5e-4, 9.8e-4, 1e-4, 1e-4], rtol=1e-5)
  # two boundaries that round to the same step decay twice there
  cfg = _train(learning_rate=1.0, schedule={"name": "piecewise", "warmup_steps": 0,
                                            "boundaries": (0.5, 0.6), "decay": 0.1})
  lr = optim.schedule(cfg, total_steps=10, steps_per_epoch=1)
  np.testing.assert_allclose(_lr(lr, [0, 1]), [1.0, 0.01], rtol=1e-6)


def test_cosine_and_constant_schedules():
  cfg = _train(learning_rate=2.0, schedule={"name": "cosine", "warmup_steps": 10})
  lr = optim.schedule(cfg, total_steps=110, steps_per_epoch=1)
  # cosine over the 100 steps after warm-up: lr·½(1 + cos(π t / 100))
  steps = [5, 10, 35, 60, 85, 110]
  want = [1.0] + [2.0 * 0.5 * (1 + math.cos(math.pi * (s - 10) / 100)) for s in steps[1:]]
  np.testing.assert_allclose(_lr(lr, steps), want, rtol=1e-5, atol=1e-7)
  cfg = _train(learning_rate=0.3, schedule={"name": "constant"})
  np.testing.assert_allclose(_lr(optim.schedule(cfg, 100, 10), [0, 50, 1000]), [0.3] * 3)
  with pytest.raises(ValueError, match=r"train.schedule.name='step'; expected constant, "
                                       "piecewise or cosine"):
    optim.schedule(_train(schedule={"name": "step"}), 100, 10)


def test_decay_mask_marks_kernels_at_any_depth():
  params = {"conv1": {"kernel": 1, "bias": 2},
            "block": {"bn": {"scale": 3, "bias": 4}, "dense": {"kernel": 5}},
            "kernel": 6, "kernels": {"w": 7}}
  assert optim.decay_mask(params) == {
      "conv1": {"kernel": True, "bias": False},
      "block": {"bn": {"scale": False, "bias": False}, "dense": {"kernel": True}},
      "kernel": True, "kernels": {"w": False}}


def test_frozen_labels_label_whole_top_level_collections():
  labels = optim.frozen_labels(lambda name: name.startswith("conv"))
  params = {"conv1": {"kernel": 0, "bn": {"scale": 0}}, "fc1": {"kernel": 0, "bias": 0}}
  assert labels(params) == {"conv1": {"kernel": "frozen", "bn": {"scale": "frozen"}},
                            "fc1": {"kernel": "trainable", "bias": "trainable"}}


def test_describe_frozen_names_both_sides_and_counts_the_trainable_parameters():
  params = {"conv1": {"kernel": np.zeros((3, 3, 3, 8)), "bias": np.zeros(8)},
            "fc1": {"kernel": np.zeros((40, 30)), "bias": np.zeros(30)},
            "reg_out": {"kernel": np.zeros((30, 2))}}
  cfg = _train(trainable=("fc", "reg_"))
  line = optim.describe_frozen(cfg, params, lambda k: k.startswith("conv"))
  assert line == ("frozen (train.frozen=(), train.trainable=('fc', 'reg_')): conv1; training "
                  "fc1, reg_out (1,290 parameters)")  # 40·30 + 30 + 30·2
  assert optim.describe_frozen(cfg, params, lambda k: False).endswith(
      ": none; training conv1, fc1, reg_out (1,514 parameters)")  # + 3·3·3·8 + 8
  assert optim.describe_frozen(cfg, params, lambda k: True).endswith(
      ": conv1, fc1, reg_out; training nothing (0 parameters)")


def _first_updates(tx, params, grads_seq):
  state = tx.init(params)
  out = []
  for g in grads_seq:
    u, state = tx.update(g, state, params)
    out.append(np.asarray(u["w"], np.float64))
  return out


def test_rmsprop_is_torchs_eps_outside_the_root():
  params = {"w": jnp.zeros(3)}
  g1 = np.array([1e-4, -2.0, 0.5], np.float32)
  g2 = np.array([3e-4, 1.0, -0.5], np.float32)
  tx = optim.optimizer(_train(optimizer="RMSProp"), optax.constant_schedule(0.01))
  u1, u2 = _first_updates(tx, params, [{"w": jnp.asarray(g1)}, {"w": jnp.asarray(g2)}])
  g1, g2 = g1.astype(np.float64), g2.astype(np.float64)
  nu1 = 0.01 * g1 ** 2                  # torch.optim.RMSprop(alpha=0.99), square_avg from 0
  nu2 = 0.99 * nu1 + 0.01 * g2 ** 2
  np.testing.assert_allclose(u1, -0.01 * g1 / (np.sqrt(nu1) + 1e-8), rtol=1e-5)
  np.testing.assert_allclose(u2, -0.01 * g2 / (np.sqrt(nu2) + 1e-8), rtol=1e-5)
  # eps inside the root would give −0.01·1e-4/√(1e-10 + 1e-8) ≈ −1e-4 for the small gradient
  assert u1[0] == pytest.approx(-0.01 * 1e-4 / (1e-5 + 1e-8), rel=1e-5)


def test_adam_and_sgd_momentum_updates():
  params = {"w": jnp.zeros(2)}
  g1, g2 = np.array([0.5, -4.0]), np.array([1.0, 2.0])
  grads = [{"w": jnp.asarray(g, jnp.float32)} for g in (g1, g2)]
  u1, u2 = _first_updates(optim.optimizer(_train(optimizer="adam"), optax.constant_schedule(0.1)),
                          params, grads)
  m2, v2 = 0.9 * 0.1 * g1 + 0.1 * g2, 0.999 * 0.001 * g1 ** 2 + 0.001 * g2 ** 2
  np.testing.assert_allclose(u1, -0.1 * np.sign(g1), rtol=1e-5)  # m̂ = g, v̂ = g² at step 1
  # (1 − 0.999²) cancels in float32: a few 1e-5 relative
  np.testing.assert_allclose(u2, -0.1 * (m2 / (1 - 0.9 ** 2))
                             / (np.sqrt(v2 / (1 - 0.999 ** 2)) + 1e-8), rtol=1e-4)
  for fields, mu in (({}, 0.9), ({"momentum": 0.5}, 0.5)):  # 0.9 unless the config says
    u1, u2 = _first_updates(optim.optimizer(_train(optimizer="sgd", **fields),
                                            optax.constant_schedule(0.1)), params, grads)
    np.testing.assert_allclose(u1, -0.1 * g1, rtol=1e-6)
    np.testing.assert_allclose(u2, -0.1 * (g2 + mu * g1), rtol=1e-6)
  with pytest.raises(ValueError, match=r"train.optimizer='lamb'; expected rmsprop, adam or sgd"):
    optim.optimizer(_train(optimizer="lamb"), optax.constant_schedule(0.1))


def test_without_freezing_or_decay_the_state_is_the_plain_optimizers():
  """What checkpoints store: the plain optax state, no chain or partition around it."""
  params = {"conv1": {"kernel": jnp.zeros((2, 2))}, "fc1": {"bias": jnp.zeros(3)}}
  lr = optax.constant_schedule(1e-3)
  for name, plain in (("adam", optax.adam(lr)), ("sgd", optax.sgd(lr, momentum=0.9)),
                      ("rmsprop", optax.rmsprop(lr, decay=0.99, eps=1e-8))):
    ours = optim.optimizer(_train(optimizer=name), lr).init(params)
    assert jax.tree_util.tree_structure(ours) == jax.tree_util.tree_structure(plain.init(params))


def test_frozen_parameters_get_no_update_and_no_state():
  params = {"conv1": {"kernel": jnp.ones((3, 3, 1, 4)), "bias": jnp.ones(4)},
            "reg_out": {"kernel": jnp.ones((4, 2))}}
  grads = jax.tree_util.tree_map(lambda p: jnp.full_like(p, 0.5), params)
  lr = optax.constant_schedule(0.1)
  tx = optim.optimizer(_train(optimizer="adam", trainable=("reg_",)), lr)
  state = tx.init(params)
  # Adam's μ and ν for the 8 trainable values only, plus the step counters (no 36 + 4 frozen)
  assert sum(x.size for x in jax.tree_util.tree_leaves(state)) == 2 * 8 + 2
  updates, _ = tx.update(grads, state, params)
  assert not np.any(updates["conv1"]["kernel"]) and not np.any(updates["conv1"]["bias"])
  plain, _ = optax.adam(lr).update(grads["reg_out"], optax.adam(lr).init(params["reg_out"]))
  np.testing.assert_array_equal(updates["reg_out"]["kernel"], plain["kernel"])
  tx = optim.optimizer(_train(optimizer="adam", frozen=("conv",)), lr)  # the same by frozen
  updates, _ = tx.update(grads, tx.init(params), params)
  assert not np.any(updates["conv1"]["kernel"])
  np.testing.assert_array_equal(updates["reg_out"]["kernel"], plain["kernel"])


def test_weight_decay_reaches_kernels_only_and_never_frozen_ones():
  params = {"conv1": {"kernel": jnp.ones((3, 3, 1, 2)), "bias": jnp.ones((2,))},
            "bn1": {"scale": jnp.ones((2,)), "bias": jnp.ones((2,))},
            "reg_out": {"kernel": jnp.ones((2, 2)), "bias": jnp.ones((2,))}}
  zero = jax.tree_util.tree_map(jnp.zeros_like, params)
  cfg = ml_collections.ConfigDict({"optimizer": "sgd", "momentum": 0.0, "weight_decay": 0.1,
                                   "frozen": (), "trainable": ()})
  tx = optim.optimizer(cfg, optax.constant_schedule(1.0))
  updates, _ = tx.update(zero, tx.init(params), params)
  assert np.allclose(updates["conv1"]["kernel"], -0.1)
  assert np.allclose(updates["reg_out"]["kernel"], -0.1)
  for name, leaf in (("conv1", "bias"), ("bn1", "scale"), ("bn1", "bias"), ("reg_out", "bias")):
    assert not np.any(updates[name][leaf]), (name, leaf)
  cfg.trainable = ("reg_",)  # the decay mask works inside multi_transform's masked trees
  tx = optim.optimizer(cfg, optax.constant_schedule(1.0))
  updates, _ = tx.update(zero, tx.init(params), params)
  assert np.allclose(updates["reg_out"]["kernel"], -0.1)
  assert not np.any(updates["conv1"]["kernel"]) and not np.any(updates["reg_out"]["bias"])


def test_grad_clip_bounds_the_trainable_gradient_norm():
  params = {"conv1": {"kernel": jnp.zeros((2, 2))}, "reg_out": {"kernel": jnp.zeros((3,))}}
  grads = {"conv1": {"kernel": jnp.full((2, 2), 3.0)}, "reg_out": {"kernel": jnp.full((3,), 4.0)}}
  cfg = ml_collections.ConfigDict({"optimizer": "sgd", "momentum": 0.0, "grad_clip": 2.0,
                                   "frozen": (), "trainable": ()})
  tx = optim.optimizer(cfg, optax.constant_schedule(1.0))
  updates, _ = tx.update(grads, tx.init(params), params)
  norm = float(optax.tree.norm(updates))
  assert abs(norm - 2.0) < 1e-5  # ‖g‖ = √(4·9 + 3·16) ≈ 9.17, rescaled to 2
  cfg.trainable = ("reg_",)  # only the trainable gradient counts: ‖(4, 4, 4)‖ ≈ 6.93 → 2
  tx = optim.optimizer(cfg, optax.constant_schedule(1.0))
  updates, _ = tx.update(grads, tx.init(params), params)
  np.testing.assert_allclose(np.asarray(updates["reg_out"]["kernel"]), -2.0 / np.sqrt(3.0), rtol=1e-5)
  assert not np.any(updates["conv1"]["kernel"])
  cfg.grad_clip = 100.0  # above the norm: the plain step
  tx = optim.optimizer(cfg, optax.constant_schedule(1.0))
  updates, _ = tx.update(grads, tx.init(params), params)
  np.testing.assert_allclose(np.asarray(updates["reg_out"]["kernel"]), -4.0)
