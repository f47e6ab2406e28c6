"""TFDS builders of the real datasets (LSP, LSPET, LSP+LSPET, MPII, FLIC, Buffy).

One generic builder over ``jaxpose.data.sources.read_split``, with one registered subclass
per dataset of the table ``sources.DATASETS`` (made from the table, not written out): it
reads the dataset's folder as released (TFDS ``manual_dir``), stores each record with its
JPEG read from the image path (``base.to_example`` fails with a ``DataError`` naming a
missing image and its record), and never touches the network (``try_download_gcs=False``,
nothing to download). Builder names carry a ``jaxpose_`` prefix (TFDS already has a
``flic``); the annotation files of the cache key come from the table too.

Cache key: the builder config name is a digest of the absolute data folder, the size and
modification time of every annotation file the reader may use, the readers' own source code
(``jaxpose/data/sources``, ``records.py``, ``builders/base.py``, ``formats/images.py``), ``limit`` and ``on_error`` — pointing
``data.root`` elsewhere, editing an annotation file, changing a reader (its test boxes, say) or
changing the subset builds a new copy under ``data_dir`` instead of serving a stale one. Images are
not part of the key (replacing image files in place needs a fresh ``data_dir``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
from typing import Optional

import tensorflow_datasets as tfds

from jaxpose import skeleton as skel
from jaxpose.data import sources
from jaxpose.data.builders import base
from jaxpose.errors import DataError

log = logging.getLogger(__name__)


@dataclasses.dataclass
class RealConfig(tfds.core.BuilderConfig):
  root: str = ""
  limit: int = 0
  on_error: str = "raise"


def _reader_code() -> bytes:
  """The source of every reader (``jaxpose/data/sources/*.py``) and of the record type: a
  change to how records are read, boxed or validated must not be served from an old copy."""
  here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  folder = os.path.join(here, "sources")
  files = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".py"))
  out = b""
  # base.py decides what is stored (image conversion, the joints-inside check), images.py how
  # an image becomes RGB
  extra = [os.path.join(here, "records.py"), os.path.join(here, "builders", "base.py"),
           os.path.join(os.path.dirname(here), "formats", "images.py")]
  for path in files + extra:
    with open(path, "rb") as f:
      out += f.read()
  return out


def fingerprint(name: str, root: str, limit: int = 0, on_error: str = "raise") -> str:
  """The cache key described in the module docstring."""
  h = hashlib.sha1(os.path.abspath(root).encode())
  h.update(hashlib.sha1(_reader_code()).digest())
  for rel in sources.get(name).annotation_files:
    path = os.path.join(root, rel)
    if os.path.isfile(path):
      st = os.stat(path)
      h.update(f"{rel}:{st.st_size}:{st.st_mtime_ns}".encode())
  return f"r{h.hexdigest()[:12]}_n{int(limit)}_{on_error}"


def make_config(name: str, root: str, limit: int = 0, on_error: str = "raise") -> RealConfig:
  root = os.path.abspath(root)
  return RealConfig(name=fingerprint(name, root, limit, on_error), root=root, limit=int(limit),
                    on_error=on_error, description=f"{name} from {root}")


class _RealPose(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """A real dataset read by ``sources.read_split(DATASET, ...)``."""

  DATASET = ""
  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Records of jaxpose.data.sources, images as released."}
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      "Point data.root (or $JAXPOSE_DATA) at the dataset's folder as its authors release it; "
      "see jaxpose/data/sources/ for the files each reader needs.")

  def _info(self) -> tfds.core.DatasetInfo:
    k = skel.get(sources.get(self.DATASET).skeleton).num_joints
    return self.dataset_info_from_configs(
        features=base.features(k, image_format="jpeg"),
        description=f"{self.DATASET} as jaxpose PoseRecords.",
        homepage="https://github.com/jaxpose/jaxpose")

  def _split_generators(self, dl_manager):
    root = os.fspath(dl_manager.manual_dir)
    return {split: self._generate_examples(split, root)
            for split in sources.get(self.DATASET).splits}

  def _generate_examples(self, split: str, root: str):
    c = self.builder_config
    source = f"{self.DATASET}/{split}"
    records = sources.read_split(self.DATASET, split, root, c.on_error, limit=c.limit or None)
    names = skel.get(sources.get(self.DATASET).skeleton).joints
    skipped, first = 0, ""
    for record in records:
      try:
        example = base.to_example(record, source, names)
      except DataError as e:
        if c.on_error == "raise":
          raise
        skipped, first = skipped + 1, first or str(e)
        continue
      yield record.index, example
    if skipped:
      log.warning("%s: skipped %d record(s) whose image is missing or unreadable or whose "
                  "joints lie far outside it; first: %s", source, skipped,
                  first)


def _builder_class(entry: sources.Dataset) -> type:
  """The registered TFDS builder of a table entry.

  TFDS registers a builder class under its class name in snake case and stores prepared
  data under that name, so the name is kept as it always was (``lsp_lspet`` →
  ``JaxposeLspLspet`` → ``jaxpose_lsp_lspet``): caches prepared before stay valid.
  """
  name = "Jaxpose" + "".join(part.capitalize() for part in entry.name.split("_"))
  return type(name, (_RealPose,), {"DATASET": entry.name, "__doc__": entry.summary,
                                   "__module__": __name__})


# One builder class per dataset of the table that has raw files to read.
BUILDERS = {e.name: _builder_class(e) for e in sources.DATASETS.values() if not e.generated}


def load_builder(name: str, root: Optional[str] = None, data_dir: Optional[str] = None,
                 limit: int = 0, on_error: str = "raise") -> tfds.core.DatasetBuilder:
  """The prepared builder of dataset ``name`` read from ``root`` (preparing it on first use).

  Args:
    name: a key of ``BUILDERS`` (the datasets of ``sources.DATASETS`` that are read).
    root: the dataset folder (default ``sources.default_root(name)``).
    data_dir: where TFDS keeps the prepared data.
    limit: records per split (0: all), e.g. for tests.
    on_error: "raise" or "skip", for bad records and missing images.
  """
  if name not in BUILDERS:
    raise DataError(f"no TFDS builder for dataset {name!r}; known: {sorted(BUILDERS)}")
  root = os.path.abspath(sources.default_root(name, root))
  if not os.path.isdir(root):
    raise DataError(f"{name}: data folder not found: {root}")
  config = make_config(name, root, limit, on_error)
  return base.prepared_builder(
      lambda: BUILDERS[name](config=config, data_dir=data_dir),
      tfds.download.DownloadConfig(manual_dir=root, try_download_gcs=False))
