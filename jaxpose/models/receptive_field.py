"""Receptive-field arithmetic from layer definitions.

Why: several families need to know which input pixels an output position sees — HMLPE
(Li, Liu & Chan 2014, Algorithm 1) traces an activation back through each layer's stride and filter
size to locate the image window it responds to, and Convolutional Pose Machines (Wei et al. 2016,
§3.2, Fig. 2) are designed so that the output receptive field covers most of the person. Computing
it from the same layer list that builds the network keeps that claim checkable instead of hand-typed.

The recurrences (standard; e.g. Dumoulin & Visin 2016, "A guide to convolution arithmetic", and
Araujo et al. 2019, "Computing receptive fields of convolutional neural networks", eq. 1–3), for a
layer with kernel ``k``, stride ``s`` and ``p`` pixels of padding on each side, applied to a grid
whose positions are ``jump`` input pixels apart, see ``size`` input pixels and whose position 0 is
centred at input coordinate ``start``::

    size'  = size + (k - 1) · jump
    jump'  = jump · s
    start' = start + ((k - 1) / 2 - p) · jump

starting from the input itself: ``size = 1``, ``jump = 1``, ``start = 0`` (pixel centres at integer
coordinates, 0-based, as everywhere in jaxpose — docs/DESIGN.md "Coordinates"). Only square kernels
and symmetric padding are modelled; the same arithmetic holds per axis. Dilation is not modelled
(no model here uses it). Padding only shifts ``start``: positions near the border see padded pixels,
which is why ``input_box`` may extend past the image and leaves clipping to the caller.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence


@dataclasses.dataclass(frozen=True)
class Layer:
  """One convolution or pooling layer, as far as geometry is concerned.

  ``kernel``: the side of the square kernel / pooling window; ``stride``: its step; ``padding``:
  pixels added on each side before the layer (a SAME 3×3 stride-1 convolution → 1; a 2×2/2
  pooling → 0). A 1×1 convolution or an element-wise layer is ``Layer(name, 1)`` (no change).
  """
  name: str
  kernel: int
  stride: int = 1
  padding: int = 0

  def __post_init__(self):
    if self.kernel < 1 or self.stride < 1 or self.padding < 0:
      raise ValueError(f"Layer {self.name!r}: kernel and stride must be >= 1 and padding >= 0, got "
                       f"kernel={self.kernel}, stride={self.stride}, padding={self.padding}")


@dataclasses.dataclass(frozen=True)
class Geometry:
  """The geometry of one layer's output grid, in input pixels.

  ``size``: receptive-field side; ``jump``: distance between adjacent output positions; ``start``:
  input coordinate of output position 0's receptive-field centre (a half-integer after an
  even-sized window, e.g. 0.5 after a 2×2/2 pooling: the centre lies between two pixels).
  """
  size: int
  jump: int
  start: float


def geometry(layers: Sequence[Layer]) -> list[Geometry]:
  """The cumulative ``Geometry`` after each layer of ``layers`` (one entry per layer, in order).

  This is the forward form of Li et al. 2014's Algorithm 1 (which walks the same recurrence
  backwards from one activation): the last entry gives, for any output position, the window of the
  input that can influence it.
  """
  size, jump, start = 1, 1, 0.0
  out = []
  for layer in layers:
    size = size + (layer.kernel - 1) * jump
    start = start + ((layer.kernel - 1) / 2 - layer.padding) * jump
    jump = jump * layer.stride
    out.append(Geometry(size=size, jump=jump, start=start))
  return out


def input_box(layers: Sequence[Layer], row: int, col: int) -> tuple[float, float, float, float]:
  """The input-pixel box ``(y0, x0, y1, x1)`` seen by output position ``(row, col)`` of the last layer.

  Inclusive start, exclusive end, pixel centres at integers: the box holds the ``size`` pixels
  whose centres run from ``centre - (size - 1) / 2`` to ``centre + (size - 1) / 2``, so
  ``y1 - y0 == size``. It may extend past the image border (padding); the caller clips.
  """
  if not layers:
    raise ValueError("input_box needs at least one layer")
  g = geometry(layers)[-1]
  half = (g.size - 1) / 2
  cy = g.start + row * g.jump
  cx = g.start + col * g.jump
  y0, x0 = cy - half, cx - half
  return (y0, x0, y0 + g.size, x0 + g.size)


__all__: Sequence[str] = ["Geometry", "Layer", "geometry", "input_box"]
