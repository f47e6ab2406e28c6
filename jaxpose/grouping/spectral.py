"""Spectral clustering of the joint affinity into groups (Tang & Wu 2019 §3.1, Fig. 2b).

§3.1: "we treat {I(l_m, l_n)} as an affinity matrix and use spectral clustering
[Dhillon et al. 2004]". That reference relates kernel k-means to the normalised cut of
Shi & Malik, so the default ``method="shi_malik"`` embeds each joint by the k smallest
generalised eigenvectors of ``(D − A) u = λ D u`` (the random-walk Laplacian; rows not
normalised; this is also what scikit-learn's SpectralClustering computes) and runs
k-means on them. ``method="njw"`` is Ng–Jordan–Weiss (top-k eigenvectors of
``D^-1/2 A D^-1/2``, rows normalised to unit length). k-means is k-means++ seeded from
``numpy.random.default_rng(seed)`` with ``restarts`` runs of Lloyd's algorithm, keeping
the lowest inertia, so a seed fixes the result.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from jaxpose.grouping.groups import Groups, canonical
from jaxpose.grouping.mi import affinity, joint_mutual_information, records_arrays

METHODS = ("shi_malik", "njw")


def kmeans(points: np.ndarray, k: int, seed: int = 0, restarts: int = 10,
           max_iter: int = 300) -> tuple[np.ndarray, float]:
  """k-means (k-means++ seeding, Lloyd iterations), best of ``restarts`` by inertia.

  Deterministic for a given seed: all randomness comes from
  ``numpy.random.default_rng(seed)``, ties go to the lowest index.

  Returns:
    (labels (N,), inertia).
  """
  x = np.asarray(points, np.float64)
  n = x.shape[0]
  if not 1 <= k <= n:
    raise ValueError(f"k-means: need 1 <= k <= {n} points, got k={k}")
  rng = np.random.default_rng(seed)
  best_labels, best_inertia = None, np.inf
  for _ in range(max(1, restarts)):
    # k-means++ seeding.
    idx = [int(rng.integers(n))]
    d2 = ((x - x[idx[0]]) ** 2).sum(1)
    for _ in range(1, k):
      total = d2.sum()
      if total <= 0:  # fewer distinct points than k: take any unused point
        idx.append(int(next(i for i in range(n) if i not in idx)))
      else:
        idx.append(int(rng.choice(n, p=d2 / total)))
      d2 = np.minimum(d2, ((x - x[idx[-1]]) ** 2).sum(1))
    centers = x[idx].copy()
    labels = np.full(n, -1)
    for _ in range(max_iter):
      dist = ((x[:, None, :] - centers[None]) ** 2).sum(-1)
      new = dist.argmin(1)
      # An empty cluster takes the point farthest from its centre.
      for c in range(k):
        if not np.any(new == c):
          far = int(np.argmax(dist[np.arange(n), new]))
          new[far] = c
          dist[far, c] = 0.0
      if np.array_equal(new, labels):
        break
      labels = new
      centers = np.stack([x[labels == c].mean(0) for c in range(k)])
    inertia = float(((x - centers[labels]) ** 2).sum())
    if inertia < best_inertia - 1e-12:
      best_labels, best_inertia = labels.copy(), inertia
  return best_labels, best_inertia


def spectral_embedding(affinity_matrix: np.ndarray, k: int, method: str = "shi_malik") -> np.ndarray:
  """The (K, k) spectral embedding of an affinity matrix.

  ``njw`` (Ng, Jordan & Weiss 2001): the k leading eigenvectors of ``D^-1/2 A D^-1/2``,
  each row normalised to unit length. ``shi_malik`` (Shi & Malik 2000, the normalised
  cut that Dhillon et al. 2004 relate to weighted kernel k-means): the k smallest
  generalised eigenvectors of ``(D − A) u = λ D u``, i.e. ``D^-1/2`` times the same
  eigenvectors, rows not normalised.
  """
  a = np.asarray(affinity_matrix, np.float64)
  a = (a + a.T) / 2
  np.fill_diagonal(a, 0.0)
  deg = a.sum(1)
  inv_sqrt = 1.0 / np.sqrt(np.maximum(deg, 1e-12))
  m = inv_sqrt[:, None] * a * inv_sqrt[None, :]
  _, vecs = np.linalg.eigh(m)  # ascending eigenvalues
  v = vecs[:, ::-1][:, :k]
  if method == "njw":
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.maximum(norms, 1e-12)
  if method == "shi_malik":
    return inv_sqrt[:, None] * v
  raise ValueError(f"unknown spectral method {method!r}; choose 'njw' or 'shi_malik'")


def spectral_groups(affinity_matrix: np.ndarray, k: int, seed: int = 0, restarts: int = 10,
                    method: str = "shi_malik") -> Groups:
  """Splits the joints into ``k`` disjoint groups by spectral clustering (§3.1, Fig. 2b).

  Args:
    affinity_matrix: (K, K) non-negative symmetric affinity (``affinity(mi)``).
    k: number of groups, 1 ≤ k ≤ K.
    seed, restarts: k-means seeding and number of runs (best inertia kept).
    method: "shi_malik" (default) or "njw" (``spectral_embedding``).

  Returns:
    k groups of joint indices in canonical order.
  """
  a = np.asarray(affinity_matrix, np.float64)
  if a.ndim != 2 or a.shape[0] != a.shape[1]:
    raise ValueError(f"affinity must be square, got shape {a.shape}")
  if not 1 <= k <= a.shape[0]:
    raise ValueError(f"k must be in [1, {a.shape[0]}], got {k}")
  if k == 1:
    return (tuple(range(a.shape[0])),)
  labels, _ = kmeans(spectral_embedding(a, k, method), k, seed=seed, restarts=restarts)
  return canonical(tuple(np.flatnonzero(labels == c)) for c in range(k))


def groups_from_records(records: Sequence[Any], k: int, bins: int = 16,
                        mode: str = "crop", extent: Optional[float] = None, seed: int = 0,
                        restarts: int = 10, method: str = "shi_malik",
                        miller_madow: bool = False) -> tuple[Groups, np.ndarray]:
  """The data-driven ("Stat") grouping of §3.1 from annotated records.

  Returns:
    (groups, mi): k canonical groups and the (K, K) mutual information in nats.
  """
  arr = records_arrays(records)
  mi = joint_mutual_information(
      arr["joints"], arr["valid"], arr["centers"] if mode == "crop" else None,
      arr["scales"] if mode == "crop" else None, bins=bins, mode=mode, extent=extent,
      miller_madow=miller_madow)
  return spectral_groups(affinity(mi), k, seed=seed, restarts=restarts, method=method), mi
