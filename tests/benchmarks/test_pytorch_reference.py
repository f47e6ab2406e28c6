"""benchmarks/pytorch_reference.py: the jaxpose side and the config handling (always), and the
PyTorch port of the stacked hourglass (only where the optional ``bench`` extra, torch, is
installed; CI has no torch and skips those)."""
import importlib
import os
import sys
import warnings

import jax  # noqa: F401  (imported first, so the benchmark's runtime.configure never re-executes)
import numpy as np
import pytest

from tests.conftest import ROOT, tiny_config


@pytest.fixture(scope="module")
def bench():
  """The benchmark module, imported without the runtime's CPU tuning (it would add an XLA flag
  to this process's environment, which later tests' subprocesses inherit)."""
  saved = {k: os.environ.get(k) for k in ("JAXPOSE_CPU_TUNING", "XLA_FLAGS")}
  os.environ["JAXPOSE_CPU_TUNING"] = "0"
  path = os.path.join(ROOT, "benchmarks")
  sys.path.insert(0, path)
  try:
    with warnings.catch_warnings():
      # ml_collections' config flag loads its default config file with the deprecated
      # importlib load_module() when train_step.py defines --config
      warnings.simplefilter("ignore", DeprecationWarning)
      module = importlib.import_module("pytorch_reference")
    yield module
  finally:
    sys.path.remove(path)
    for k, v in saved.items():
      if v is None:
        os.environ.pop(k, None)
      else:
        os.environ[k] = v


def _tiny():
  """1 stack of depth 1, 16 features, 32×32 crops: a few seconds to compile."""
  c = tiny_config()
  c.model.update(features=16, depth=1)
  c.data.update(image_size=32, heatmap_size=8)
  c.train.batch_size = 2
  return c


# ------------------------------------------------------------------------ without torch

def test_jaxpose_param_count_of_the_2_stack_256_channel_hourglass(bench):
  from jaxpose.configs import hourglass
  c = hourglass.get_config()
  assert (c.model.num_stacks, c.model.features, c.data.image_size) == (2, 256, 256)
  assert bench.jaxpose_param_count(c) == bench.HOURGLASS_2x256_PARAMS == 6_730_912


def test_jaxpose_param_count_matches_the_layer_list(bench):
  from tests import param_counts as pc
  c = _tiny()  # 1 stack, 16 features, depth 1, 16 joints
  f, k, depth = 16, 16, 1
  stem = pc.conv(3, f // 4, 7) + pc.bn(f // 4) + pc.bottleneck(f // 4, f // 2) + \
      pc.bottleneck(f // 2, f) + pc.bottleneck(f, f)
  hourglass = (3 * depth + 1) * pc.bottleneck(f, f)  # skip, down, up per level + the bottom
  head = pc.bottleneck(f, f) + pc.conv(f, f) + pc.bn(f) + pc.conv(f, k)
  assert bench.jaxpose_param_count(c) == stem + hourglass + head


def test_contender_configs_and_refusals(bench):
  c = _tiny()
  bf16 = bench.contender_config(c, "jax_bf16", 1)
  assert bf16.model.dtype == "bfloat16" and bf16.train.batch_size == 1
  assert bench.contender_config(c, "torch_bf16", 3).model.dtype == "float32"
  assert c.model.dtype == "float32" and c.train.batch_size == 2  # the original is untouched
  bad = _tiny()
  bad.model.name = "pbn"
  with pytest.raises(ValueError, match="model.name='pbn'"):
    bench.check_config(bad)
  bad = _tiny()
  bad.train.optimizer = "adam"
  with pytest.raises(ValueError, match="rmsprop"):
    bench.check_config(bad)


def test_missing_torch_names_the_extra(bench, monkeypatch):
  monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError
  with pytest.raises(ImportError, match=r"pip install -e \.\[bench\]"):
    bench.import_torch()


# ------------------------------------------------------------------------ with torch

@pytest.fixture
def torch():
  """torch (or skip), on one thread for the test: torch's OpenMP threads slow tiny networks down
  many times on a CPU that other processes share (a test suite, a training)."""
  torch = pytest.importorskip("torch")
  threads = torch.get_num_threads()
  torch.set_num_threads(1)
  yield torch
  torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_case(bench):
  """The tiny config, its jaxpose model, random variables of the model's shapes (every
  parameter and BatchNorm statistic drawn, so that a swapped or mistransposed tensor shows; no
  init, whose compilation alone takes longer than this whole file) and a random batch."""
  from jaxpose import families, models
  c = _tiny()
  model = models.create(c.model)
  shapes = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0),
                                             np.zeros((1, 32, 32, 3), np.float32), train=False))
  rng = np.random.default_rng(0)

  def draw(path, x):
    name, shape = path[-1].key, x.shape
    if name == "kernel":
      return rng.normal(0, 1 / np.sqrt(np.prod(shape[:-1])), shape).astype(np.float32)
    if name == "var":
      return rng.uniform(0.5, 1.5, shape).astype(np.float32)
    base = 1.0 if name == "scale" else 0.0
    return (base + 0.1 * rng.normal(size=shape)).astype(np.float32)

  variables = jax.tree_util.tree_map_with_path(draw, shapes)
  family = families.get(c)
  batch = bench.train_step.fake_batch(c, family, 2, rng)
  batch["target_weight"][0, :5] = 0  # joints the loss must leave out
  return c, model, family, variables, batch


def test_port_computes_jaxpose_and_every_mode_steps(bench, torch, tiny_case):
  c, model, family, variables, batch = tiny_case

  @jax.jit
  def reference(v, b):  # the train-mode loss (batch statistics) and the inference output
    outputs = model.apply(v, b["image"], train=True, mutable=["batch_stats"])[0]
    return family.loss(outputs, b)[0], model.apply(v, b["image"], train=False)["heatmaps"][-1]

  loss, heatmaps = jax.device_get(reference(variables, batch))
  trainers, predictors = {}, {}
  for name, tol in (("torch_nchw", 1e-4), ("torch_cl", 1e-4), ("torch_bf16", 5e-2)):
    trainers[name] = t = bench.TorchContender(name, c, "train", variables, batch)
    predictors[name] = p = bench.TorchContender(name, c, "infer", variables, batch)
    assert t.params == p.params == bench.jaxpose_param_count(c)
    before = t.model.fc0.weight.detach().clone()
    t.run(1)
    np.testing.assert_allclose(t.last, loss, rtol=tol, err_msg=name)  # before its update
    assert not torch.equal(before, t.model.fc0.weight), name  # the step updated the weights
    p.run(1)
    assert p.last.shape == heatmaps.shape == (2, 8, 8, 16)
    assert np.abs(p.last - heatmaps).max() <= tol * np.abs(heatmaps).max(), name
  for runners in (trainers, predictors):
    per_rep = bench.timed(runners, reps=2, steps=1, warmup=0)
    assert all(len(t) == 2 and min(t) > 0 for t in per_rep.values())
  assert all(np.isfinite(t.last) for t in trainers.values())


def test_loading_refuses_a_different_network(bench, torch, tiny_case):
  c, variables = tiny_case[0].copy_and_resolve_references(), tiny_case[3]
  c.model.num_stacks = 2
  with pytest.raises(ValueError, match="differ"):
    bench.load_jaxpose_variables(bench.torch_model(c), variables)


@pytest.mark.slow
def test_profile_step_classifies_every_traced_instruction(bench, tmp_path):
  """benchmarks/profile_step.py: a traced tiny train step yields time for many HLO instructions,
  each classified from the compiled HLO, with convolutions and dots among them."""
  profile_step = importlib.import_module("profile_step")
  step = bench.train_step.CompiledStep(_tiny())
  step.run(1)
  per_op, kinds, times = profile_step.profile(step, 2, str(tmp_path))
  assert len(times) == 2 and len(per_op) > 10
  assert all(t >= 0 for t in per_op.values())
  unknown = [op for op in per_op if op not in kinds]
  assert not unknown, unknown
  seen = {kinds[op] for op in per_op}
  assert any("convolution" in k for k in seen) and any("dot" in k for k in seen), seen
