"""The PyTorch port of ``jaxpose.models.StackedHourglass`` (issue #20), importable alone.

Needs only numpy, flax (``traverse_util``) and torch — no ml_collections, no tensorflow — so that
benchmarks/pytorch_reference.py (the CPU comparison) and benchmarks/accelerator.py (the GPU one,
on a machine without ml_collections) share one port. Layer for layer as
``jaxpose.models.hourglass`` / ``layers``, with the flax module names as attribute names, so
that ``load_jaxpose_variables`` copies jaxpose's parameters into it by name.
"""
import functools
import types

import numpy as np
from flax import traverse_util


def import_torch():
  """``torch``, or ImportError saying how to install the optional extra."""
  try:
    import torch  # noqa: PLC0415  (optional: only this benchmark uses it)
  except ImportError as e:
    raise ImportError("benchmarks/pytorch_reference.py needs PyTorch, an optional extra: "
                      "pip install -e .[bench]") from e
  return torch


@functools.lru_cache(maxsize=None)
def torch_port() -> types.SimpleNamespace:
  """The PyTorch modules of the port (defined on first use, so that importing this file needs
  no torch). Layer for layer as ``jaxpose.models.hourglass`` / ``layers``, with the flax module
  names as attribute names, so that ``load_jaxpose_variables`` maps every parameter by name."""
  torch = import_torch()
  nn, F = torch.nn, torch.nn.functional

  def conv1x1(cin, cout):  # jaxpose's Conv1x1 (a matmul over channels): a 1×1 conv with bias
    return nn.Conv2d(cin, cout, 1, bias=True)

  def bn(c):  # jaxpose's batch_norm: PyTorch momentum 0.1 ≡ flax 0.9, eps 1e-5
    return nn.BatchNorm2d(c, eps=1e-5, momentum=0.1)

  def max_pool(x):
    return F.max_pool2d(x, 2, 2)

  class Bottleneck(nn.Module):
    """Pre-activation bottleneck (expansion 2): BN-ReLU-1×1(w), BN-ReLU-3×3(w), BN-ReLU-1×1(2w),
    identity skip or a 1×1 projection of the raw input when channels change."""

    def __init__(self, cin, features):
      super().__init__()
      w = features // 2
      self.bn1, self.conv1 = bn(cin), conv1x1(cin, w)
      self.bn2, self.conv2 = bn(w), nn.Conv2d(w, w, 3, padding=1, bias=True)
      self.bn3, self.conv3 = bn(w), conv1x1(w, features)
      self.project = conv1x1(cin, features) if cin != features else None

    def forward(self, x):
      y = self.conv1(F.relu(self.bn1(x)))
      y = self.conv2(F.relu(self.bn2(y)))
      y = self.conv3(F.relu(self.bn3(y)))
      return (x if self.project is None else self.project(x)) + y

  class Residual(nn.Module):
    def __init__(self, cin, features, num_blocks):
      super().__init__()
      for i in range(num_blocks):
        self.add_module(f"block{i}", Bottleneck(cin if i == 0 else features, features))
      self.num_blocks = num_blocks

    def forward(self, x):
      for i in range(self.num_blocks):
        x = getattr(self, f"block{i}")(x)
      return x

  class Stem(nn.Module):
    """7×7/2 conv (features/4) + BN + ReLU, bottleneck → features/2, max-pool, two bottlenecks."""

    def __init__(self, features):
      super().__init__()
      self.conv = nn.Conv2d(3, features // 4, 7, stride=2, padding=3, bias=True)
      self.bn = bn(features // 4)
      self.res1 = Bottleneck(features // 4, features // 2)
      self.res2 = Bottleneck(features // 2, features)
      self.res3 = Bottleneck(features, features)

    def forward(self, x):
      x = F.relu(self.bn(self.conv(x)))
      x = max_pool(self.res1(x))
      return self.res3(self.res2(x))

  class Hourglass(nn.Module):
    def __init__(self, depth, features, num_blocks):
      super().__init__()
      self.skip = Residual(features, features, num_blocks)
      self.down = Residual(features, features, num_blocks)
      if depth > 1:
        self.inner = Hourglass(depth - 1, features, num_blocks)
      else:
        self.bottom = Residual(features, features, num_blocks)
      self.up = Residual(features, features, num_blocks)
      self.depth = depth

    def forward(self, x):
      low = self.down(max_pool(x))
      low = self.inner(low) if self.depth > 1 else self.bottom(low)
      return self.skip(x) + F.interpolate(self.up(low), scale_factor=2, mode="nearest")

  class StackedHourglass(nn.Module):
    def __init__(self, num_joints=16, num_stacks=2, num_blocks=1, features=256, depth=4):
      super().__init__()
      self.num_stacks = num_stacks
      self.stem = Stem(features)
      for i in range(num_stacks):
        self.add_module(f"hourglass{i}", Hourglass(depth, features, num_blocks))
        self.add_module(f"res{i}", Residual(features, features, num_blocks))
        self.add_module(f"fc{i}", conv1x1(features, features))
        self.add_module(f"fc_bn{i}", bn(features))
        self.add_module(f"score{i}", conv1x1(features, num_joints))
        if i < num_stacks - 1:
          self.add_module(f"fc_remap{i}", conv1x1(features, features))
          self.add_module(f"score_remap{i}", conv1x1(num_joints, features))

    def forward(self, x):
      x = self.stem(x)
      heatmaps = []
      for i in range(self.num_stacks):
        layer = lambda name, i=i: getattr(self, f"{name}{i}")
        y = layer("res")(layer("hourglass")(x))
        y = F.relu(layer("fc_bn")(layer("fc")(y)))
        score = layer("score")(y)
        heatmaps.append(score)
        if i < self.num_stacks - 1:
          x = x + layer("fc_remap")(y) + layer("score_remap")(score)
      return heatmaps

  return types.SimpleNamespace(torch=torch, StackedHourglass=StackedHourglass)


def torch_param_count(model) -> int:
  return int(sum(p.numel() for p in model.parameters()))


_LEAF = {"kernel": "weight", "scale": "weight", "bias": "bias", "mean": "running_mean",
         "var": "running_var"}


def load_jaxpose_variables(model, variables) -> None:
  """Copies jaxpose's ``{"params", "batch_stats"}`` into the port, name by name; raises unless
  the two have exactly the same tensors with the same shapes (after the NHWC → NCHW kernel
  transposes: 1×1 matmul kernels (Cin, Cout) → (Cout, Cin, 1, 1), k×k (k, k, Cin, Cout) →
  (Cout, Cin, k, k))."""
  torch = torch_port().torch
  flat = {}
  for collection in ("params", "batch_stats"):
    for path, v in traverse_util.flatten_dict(variables.get(collection, {})).items():
      v = np.asarray(v, np.float32)
      if path[-1] == "kernel":
        v = v.T[..., None, None] if v.ndim == 2 else v.transpose(3, 2, 0, 1)
      flat[".".join((*path[:-1], _LEAF[path[-1]]))] = v
  state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
  missing, extra = sorted(set(state) - set(flat)), sorted(set(flat) - set(state))
  if missing or extra:
    raise ValueError(f"the port and jaxpose differ: only in torch {missing[:5]}, only in "
                     f"jaxpose {extra[:5]}")
  for k, t in state.items():
    if tuple(t.shape) != flat[k].shape:
      raise ValueError(f"{k}: torch {tuple(t.shape)}, jaxpose {flat[k].shape}")
  with torch.no_grad():
    for k, t in state.items():
      t.copy_(torch.from_numpy(np.array(flat[k], np.float32, order="C")))
