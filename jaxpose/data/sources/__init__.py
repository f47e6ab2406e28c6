"""Dataset readers: raw annotation files → ``PoseRecord``s (plain numpy, no tf), and the one
table of datasets.

``DATASETS`` holds one ``Dataset`` per config name: its reader, splits, skeleton, the
annotation files whose change must rebuild a prepared copy, and the default folder of its
raw files. ``read_split`` (the readers' one entry point for other code: evaluation,
the grouping CLI), the TFDS builders (``builders.real``) and the config-facing registry
(``jaxpose.data.datasets``) all read this table, so a dataset is added in one place. The
facts a reader itself relies on (which images form a split, which file names it opens) stay
in its module — ``lsp`` (lsp, lspet, lsp_lspet), ``mpii``, ``flic``, ``buffy``,
``upper_body`` (upper-body views of those and their union, HMLPE §4.1–4.4); ``synthetic``
generates — and the table refers to them rather than repeating them.
"""
from __future__ import annotations

import dataclasses
import functools
import os
from typing import Callable, Optional

from jaxpose.errors import DataError
from jaxpose.data.records import PoseRecord, data_root
from jaxpose.data.sources import buffy, flic, lsp, mpii, synthetic, upper_body

# (split, root, on_error, limit) -> validated records
Reader = Callable[[str, str, str, Optional[int]], list[PoseRecord]]


@dataclasses.dataclass(frozen=True)
class Dataset:
  """One dataset as every layer above the readers sees it.

  Attributes:
    name: the config name (``data.name``).
    splits: split names, in the order builders prepare them.
    skeleton: the ``jaxpose.skeleton`` name of its joints.
    reader: reads one split from the raw files; None for a generated dataset, which has no
      raw files (its TFDS builder makes the records).
    annotation_files: files below the root that ``reader`` may use, in the order the TFDS
      cache key hashes them (changing the order would orphan every prepared copy).
    folder: the default root below ``$JAXPOSE_DATA``; "" = ``$JAXPOSE_DATA`` itself (a
      dataset that joins the folders of others).
    summary: one line on what it is (the TFDS builder's docstring).
  """
  name: str
  splits: tuple[str, ...]
  skeleton: str
  reader: Optional[Reader]
  annotation_files: tuple[str, ...] = ()
  folder: Optional[str] = None
  summary: str = ""

  @property
  def generated(self) -> bool:
    return self.reader is None

  def root(self, root: Optional[str] = None) -> str:
    """The folder the raw files are read from: ``root``, else the default (``folder``)."""
    if root:
      return os.path.expanduser(root)
    folder = self.name if self.folder is None else self.folder
    return data_root(folder or None)


def _lsp(name: str, summary: str, folder: Optional[str] = None) -> Dataset:
  return Dataset(name, lsp.SPLITS[name], "lsp", functools.partial(lsp.read, name),
                 lsp.ANNOTATION_FILES[name], folder, summary)


def _upper_body(name: str, summary: str, folder: Optional[str] = None) -> Dataset:
  return Dataset(name, upper_body.SPLITS[name], "upper_body",
                 functools.partial(upper_body.read, name), upper_body.ANNOTATION_FILES[name],
                 folder, summary)


DATASETS: dict[str, Dataset] = {d.name: d for d in (
    Dataset("synthetic_pose", synthetic.SPLITS, "mpii", None,
            summary="Procedural people with the 16 MPII joints, generated on first use."),
    _lsp("lsp", "Leeds Sports Pose: 1,000 train / 1,000 test images, 14 joints."),
    _lsp("lspet", "LSP extended: 10,000 training images, 14 joints."),
    _lsp("lsp_lspet", "LSP train + LSPET (11,000) and LSP test (1,000): the usual LSP protocol.",
         folder=""),
    Dataset("mpii", mpii.SPLITS, "mpii", mpii.read, mpii.ANNOTATION_FILES,
            summary="MPII Human Pose, Tompson split: 22,246 train / 2,958 validation people."),
    Dataset("flic", flic.SPLITS, "flic", flic.read, flic.ANNOTATION_FILES,
            summary="FLIC: 3,987 train / 1,016 test, 11 joints."),
    Dataset("buffy", tuple(buffy.SPLITS), "upper_body", buffy.read, buffy.ANNOTATION_FILES,
            summary="Buffy Stickmen v3.0: episodes 3–4 train (472), 2, 5, 6 test (276); "
                    "upper body."),
    # Li et al. 2014 (HMLPE) §4.1–4.4: pre-train on the union, fine-tune on Buffy or FLIC.
    _upper_body("upper_body_union",
                "Buffy + FLIC + LSP + LSPET train in the 8 upper-body joints, occluded people "
                "dropped (§4.1); test = Buffy test with the §4.3 box.", folder=""),
    _upper_body("upper_body_union_all",
                "upper_body_union without the §4.1 occlusion filter.", folder=""),
    _upper_body("buffy_upper_body",
                "Buffy in the 8 upper-body joints: §4.1 training crops, §4.3 test boxes.",
                folder="buffy"),
    _upper_body("flic_upper_body",
                "FLIC in the 8 upper-body joints: §4.1 training crops, §4.4 test boxes.",
                folder="flic"),
)}


def get(name: str) -> Dataset:
  """The table entry of ``name``; ``DataError`` listing the known names otherwise."""
  if name not in DATASETS:
    raise DataError(f"unknown dataset {name!r}; known: {sorted(DATASETS)}")
  return DATASETS[name]


def default_root(name: str, root: Optional[str] = None) -> str:
  """The folder a dataset is read from: ``root``, else ``$JAXPOSE_DATA/<name>``.

  ``lsp_lspet`` reads ``<root>/lsp`` and ``<root>/lspet``, so its default is
  ``$JAXPOSE_DATA`` itself.
  """
  return get(name).root(root)


def read_split(name: str, split: str, root: Optional[str] = None, on_error: str = "raise",
               *, limit: Optional[int] = None) -> list[PoseRecord]:
  """The validated records of ``split`` of dataset ``name``.

  Args:
    name: a key of ``DATASETS`` that has a reader (not the generated ``synthetic_pose``).
    split: one of its ``splits``.
    root: the dataset's folder as released (default ``default_root(name)``).
    on_error: "raise" (the first bad record raises ``DataError`` naming file, record and
      field) or "skip" (bad records are dropped, counted and logged as one warning).
    limit: keep at most this many records (tests, quick looks).

  Raises:
    DataError: unknown dataset or split, a generated dataset, missing or malformed
      annotation file, a bad record with ``on_error="raise"``, or an empty split.
  """
  entry = get(name)
  if entry.generated:
    raise DataError(f"{name} is generated, not read from files: use "
                    f"jaxpose.data.datasets.builder for its records")
  if split not in entry.splits:
    raise DataError(f"{name}: no split {split!r}; splits are {entry.splits}")
  root = entry.root(root)
  if not os.path.isdir(root):
    raise DataError(f"{name}: data folder not found: {root}")
  return entry.reader(split, root, on_error, limit)
