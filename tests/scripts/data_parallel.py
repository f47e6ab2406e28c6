"""Runs train steps of the tiny hourglass on fixed random global batches; saves the parameter
updates and the BatchNorm statistics.

  DP_STEPS=3 (default) steps;
  python data_parallel.py jit OUT.npz                        # one device, jitted, whole batch
  python data_parallel.py pmap OUT.npz                       # all local devices, pmapped
  python data_parallel.py pmap_nosync OUT.npz                # the same without synchronised BN
  python data_parallel.py dist OUT.npz PORT NPROC PID        # one of NPROC processes (gloo)
"""
import os
import sys

mode, out = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402

if mode == "dist":
  port, nproc, pid = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(f"127.0.0.1:{port}", nproc, pid)

import flax.jax_utils  # noqa: E402
import numpy as np  # noqa: E402

from conftest import tiny_config  # noqa: E402
from jaxpose import families, models  # noqa: E402
from jaxpose.training import optim, state as state_lib  # noqa: E402
from jaxpose.training.step import make_train_step  # noqa: E402

config = tiny_config()
# SGD: RMSProp's and Adam's first steps are ≈ lr·sign(g), which turns float rounding in tiny
# gradients into lr-sized parameter differences; SGD compares the arithmetic itself.
config.train.optimizer = "sgd"
config.train.learning_rate = 0.05
B, S, H, K = 8, config.data.image_size, config.data.heatmap_size, config.model.num_joints
rng = np.random.default_rng(0)
batches = [{"image": rng.normal(size=(B, S, S, 3)).astype(np.float32),
            "heatmaps": rng.uniform(size=(B, H, H, K)).astype(np.float32),
            "target_weight": (rng.uniform(size=(B, K)) > 0.2).astype(np.float32)}
           for _ in range(int(os.environ.get("DP_STEPS", "3")))]
lr = optim.schedule(config.train, 3, 3)
tx = optim.optimizer(config.train, lr)
parallel = mode != "jit"
model = models.create(config.model, bn_axis_name="batch" if mode in ("pmap", "dist") else None)
state = init = state_lib.create(model, tx, jax.random.PRNGKey(0), (1, S, S, 3))
step = make_train_step(model, tx, families.get(config), axis_name="batch" if parallel else None)

if not parallel:
  step = jax.jit(step)
  for b in batches:
    state, _ = step(state, b)
  final = state
else:
  n_local, n_global = jax.local_device_count(), jax.device_count()
  assert n_global > 1, "needs several devices"
  step = jax.pmap(step, axis_name="batch")
  state = flax.jax_utils.replicate(state)
  lo = jax.process_index() * (B // jax.process_count())
  for b in batches:
    local = {k: v[lo:lo + B // jax.process_count()] for k, v in b.items()}
    local = {k: v.reshape(n_local, -1, *v.shape[1:]) for k, v in local.items()}
    state, _ = step(state, local)
  final = state_lib.first_replica(state)

update = jax.tree_util.tree_map(lambda a, b: np.asarray(a) - np.asarray(b), final.params, init.params)
flat = {jax.tree_util.keystr(p): np.asarray(v)
        for p, v in jax.tree_util.tree_leaves_with_path({"update": update,
                                                         "batch_stats": final.batch_stats})}
np.savez(out, **flat)
print("devices", jax.device_count(), "processes", jax.process_count())
