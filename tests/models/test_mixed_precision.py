"""Mixed precision (issue #20): with ``model.dtype=bfloat16`` every matmul and convolution of
every family takes bf16 operands and accumulates in float32 (``jaxpose.models.layers``,
"Precision"); in float32 the shared layers are exactly flax's. And the CPU check that says
whether bf16 pays on this machine."""
import collections
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.extend import core

from jaxpose import models, runtime
from jaxpose.models import layers
from conftest import ROOT, load_recipe, offline_groups

ROOT = os.path.join(ROOT, "configs")
# one recipe per registered model (the CPU sizes where there is one)
RECIPES = ["default.py", "pbn_lsp_cpu.py", "msn_lsp_cpu.py", "cpm_lsp_cpu.py",
           "regressor_baseline1_lsp_cpu.py", "regressor_baseline2_lsp_cpu.py",
           "regressor_alexnet_lsp_cpu.py", "regressor_vgg19_lsp_cpu.py", "hmlpe_pretrain.py"]
MATMULS = ("conv_general_dilated", "dot_general")


def _eqns(jaxpr):
  for e in jaxpr.eqns:
    yield e
    for p in e.params.values():
      for sub in (p if isinstance(p, (tuple, list)) else [p]):
        if isinstance(sub, core.ClosedJaxpr):
          yield from _eqns(sub.jaxpr)
        elif isinstance(sub, core.Jaxpr):
          yield from _eqns(sub)


def _matmuls(fn, *args):
  """(primitive, operand dtypes, preferred_element_type, output dtype) → count, over ``fn``'s
  jaxpr and every jaxpr nested in it."""
  count = collections.Counter()
  for e in _eqns(jax.make_jaxpr(fn)(*args).jaxpr):
    if e.primitive.name in MATMULS:
      pref = e.params.get("preferred_element_type")
      count[(e.primitive.name, tuple(str(v.aval.dtype) for v in e.invars),
             None if pref is None else str(np.dtype(pref)), str(e.outvars[0].aval.dtype))] += 1
  return count


@pytest.mark.slow
def test_shared_layers_are_flax_layers_in_float32():
  x = jax.random.normal(jax.random.key(0), (2, 9, 9, 5))
  for ours, theirs in [(layers.Conv(7, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1))),
                        nn.Conv(7, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))),
                       (layers.Dense(7), nn.Dense(7))]:
    v = theirs.init(jax.random.key(1), x)
    assert jax.tree.map(jnp.shape, ours.init(jax.random.key(1), x)) == jax.tree.map(jnp.shape, v)
    np.testing.assert_array_equal(ours.apply(v, x), theirs.apply(v, x))
    assert _matmuls(lambda x: ours.apply(v, x), x) == _matmuls(lambda x: theirs.apply(v, x), x)


@pytest.mark.parametrize("layer", [layers.Conv(6, (3, 3)), layers.Dense(6), layers.Conv1x1(6)],
                         ids=["Conv", "Dense", "Conv1x1"])
@pytest.mark.slow
def test_low_precision_layers_accumulate_in_float32(layer):
  x = jax.random.normal(jax.random.key(0), (2, 8, 8, 32))
  v = layer.init(jax.random.key(1), x)
  low = layer.clone(dtype=jnp.bfloat16)
  y, y32 = low.apply(v, x), layer.apply(v, x)
  assert y.dtype == jnp.float32  # the float32 accumulator, bias added in float32
  assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(v))
  np.testing.assert_allclose(y, y32, atol=0.02 * float(jnp.abs(y32).max()))
  assert not np.array_equal(y, y32)  # the operands really were rounded to bf16
  (prim, dtypes, pref, out), = _matmuls(lambda x: low.apply(v, x), x)
  assert dtypes == ("bfloat16", "bfloat16") and pref == "float32" and out == "float32"


@pytest.mark.slow
@pytest.mark.parametrize("recipe", RECIPES)
def test_every_family_accumulates_bf16_in_float32(recipe):
  """Every recipe's model in ``model.dtype=bfloat16`` (a train-mode forward pass, traced only):
  all its convolutions and matmuls see bf16 operands and accumulate in float32, its parameters
  and outputs are float32 (so are the losses)."""
  c = load_recipe(os.path.join(ROOT, recipe))
  if c.model.get("grouping") is not None and not c.model.get("groups"):
    c = offline_groups(c)
  model = models.create(c.model, dtype="bfloat16")
  x = jnp.zeros((1, c.data.image_size, c.data.image_size, 3))
  variables = jax.eval_shape(lambda: model.init(jax.random.key(0), x))
  assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(variables))

  def forward(v, x):
    out, _ = model.apply(v, x, train=True, mutable=["batch_stats"],
                         rngs={"dropout": jax.random.key(1)})
    return out

  found = _matmuls(forward, variables, x)
  assert found, recipe
  ok = (("bfloat16", "bfloat16"), "float32", "float32")
  # MSN's regression network resamples the float32 score maps with jax.image.resize, whose
  # bilinear interpolation matrices are float32 dots (no parameters, not a layer)
  resize = ("dot_general", ("float32", "float32"), "float32", "float32")
  wrong = {k: n for k, n in found.items()
           if k[1:] != ok and not (recipe.startswith("msn") and k == resize)}
  assert not wrong, f"{recipe}: matmuls without bf16 operands and float32 accumulation: {wrong}"
  out = jax.eval_shape(forward, variables, x)
  assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(out)), recipe


def test_bf16_matrix_units_from_cpu_flags(tmp_path):
  info = tmp_path / "cpuinfo"
  info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
                  "processor\t: 1\nflags\t\t: fpu\n")
  flags = runtime.cpu_flags(str(info))
  assert "avx2" in flags and "amx_tile" in flags
  assert runtime.bf16_matrix_units(flags) == ("amx_bf16", "avx512_bf16")
  assert runtime.bf16_matrix_units(frozenset({"avx2", "fma"})) == ()
  assert runtime.cpu_flags(str(tmp_path / "missing")) == frozenset()


def test_precision_note_says_whether_bf16_pays(monkeypatch):
  monkeypatch.setattr(runtime, "bf16_matrix_units", lambda: ())
  assert "float32 is as fast" in runtime.precision_note("bfloat16", "cpu")
  assert "no bf16 matrix units" in runtime.precision_note("float32", "cpu")
  monkeypatch.setattr(runtime, "bf16_matrix_units", lambda: ("amx_bf16",))
  note = runtime.precision_note("float32", "cpu")
  assert "amx_bf16" in note and "slower than float32" in note and "float32 stays" in note
  assert "slower than float32" in runtime.precision_note("bfloat16", "cpu")
  assert "amx_bf16" in runtime.precision_note("bfloat16", "cpu")
  assert runtime.precision_note("bfloat16", "gpu") == "model.dtype=bfloat16"
