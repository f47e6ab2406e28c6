"""The one dataset table (``sources.DATASETS``): it drives ``read_split``, the TFDS builders
and the config registry ``datasets``; the split aliases; the builders' names and cache keys
stay what prepared copies were stored under."""
import dataclasses
import hashlib
import os
import types

import numpy as np
import pytest

from jaxpose import skeleton as skel
from jaxpose.data import datasets, sources
from jaxpose.errors import DataError
from jaxpose.data.records import PoseRecord
from conftest import ROOT


def _fake_entry(calls, **kw):
  def reader(split, root, on_error, limit):
    calls.append((split, root, on_error, limit))
    return [PoseRecord(image="x.jpg", joints=np.zeros((14, 3), np.float32),
                       valid=np.ones(14, np.float32), center=np.zeros(2, np.float32), scale=1.0,
                       norm=1.0)]
  return sources.Dataset(**{"name": "fake", "splits": ("train", "dev"), "skeleton": "lsp",
                            "reader": reader, "annotation_files": ("labels.txt",), **kw})


def test_the_table_drives_read_split(tmp_path, monkeypatch):
  calls = []
  monkeypatch.setitem(sources.DATASETS, "fake", _fake_entry(calls))
  root = tmp_path / "fake"
  root.mkdir()
  assert len(sources.read_split("fake", "dev", str(root), "skip", limit=3)) == 1
  assert calls == [("dev", str(root), "skip", 3)]
  with pytest.raises(DataError, match=r"fake: no split 'test'; splits are \('train', 'dev'\)"):
    sources.read_split("fake", "test", str(root))
  # The default root: $JAXPOSE_DATA/<name>, or $JAXPOSE_DATA itself for a joined dataset.
  monkeypatch.setenv("JAXPOSE_DATA", str(tmp_path))
  sources.read_split("fake", "train")
  assert calls[-1][1] == str(root)
  monkeypatch.setitem(sources.DATASETS, "fake", _fake_entry(calls, folder=""))
  sources.read_split("fake", "train")
  assert calls[-1][1] == str(tmp_path)
  assert sources.default_root("lsp_lspet") == str(tmp_path)
  assert sources.default_root("lsp", "~/x") == os.path.expanduser("~/x")


def test_generated_and_unknown_datasets_are_not_read():
  with pytest.raises(DataError, match="synthetic_pose is generated"):
    sources.read_split("synthetic_pose", "train")
  with pytest.raises(DataError, match=r"unknown dataset 'coco'; known: "
                                      r"\['buffy', 'buffy_upper_body', 'flic'"):
    datasets.splits("coco")


def test_registry_names_splits_and_skeletons():
  assert datasets.names() == ("synthetic_pose", "lsp", "lspet", "lsp_lspet", "mpii", "flic",
                              "buffy", "upper_body_union", "upper_body_union_all",
                              "buffy_upper_body", "flic_upper_body")
  assert datasets.DATASETS is sources.DATASETS
  assert datasets.splits("mpii") == ("train", "validation")
  assert datasets.splits("lspet") == ("train",)
  assert datasets.splits("synthetic_pose") == ("train", "validation", "test")
  cfg = lambda **kw: types.SimpleNamespace(get=lambda k, d=None: kw.get(k, d), **kw)
  for name, want in (("buffy", skel.UPPER_BODY), ("lsp_lspet", skel.LSP), ("flic", skel.FLIC),
                     ("synthetic_pose", skel.MPII)):
    assert datasets.skeleton(cfg(name=name)) is want
  assert datasets.skeleton(cfg(name="mpii", skeleton="lsp")) is skel.LSP


def test_canonical_split_is_the_one_alias_table():
  assert datasets.canonical_split("valid") == "validation"
  assert datasets.canonical_split("val") == "validation"
  assert datasets.canonical_split("test") == "test"
  assert datasets.canonical_split(None) is None and datasets.canonical_split("") == ""
  from jaxpose import visualize
  config = types.SimpleNamespace(data=types.SimpleNamespace(eval_split="test"))
  assert visualize._split(types.SimpleNamespace(split="val"), config) == "validation"
  assert visualize._split(types.SimpleNamespace(split=None), config) == "test"
  for path in (os.path.join("jaxpose", "evaluate.py"), os.path.join("jaxpose", "visualize", "cli.py")):
    with open(os.path.join(ROOT, path)) as f:
      assert "_SPLIT_ALIASES" not in f.read(), path


def test_builders_are_made_from_the_table_under_their_old_names():
  from jaxpose.data.builders import real
  read = [e for e in sources.DATASETS.values() if not e.generated]
  assert sorted(real.BUILDERS) == sorted(e.name for e in read)
  names = {e.name: real.BUILDERS[e.name].name for e in read}
  assert names == {"lsp": "jaxpose_lsp", "lspet": "jaxpose_lspet",
                   "lsp_lspet": "jaxpose_lsp_lspet", "mpii": "jaxpose_mpii",
                   "flic": "jaxpose_flic", "buffy": "jaxpose_buffy",
                   "upper_body_union": "jaxpose_upper_body_union",
                   "upper_body_union_all": "jaxpose_upper_body_union_all",
                   "buffy_upper_body": "jaxpose_buffy_upper_body",
                   "flic_upper_body": "jaxpose_flic_upper_body"}
  import tensorflow_datasets as tfds
  for e in read:  # registered with TFDS, as the hand-written classes were
    assert tfds.builder_cls(names[e.name]) is real.BUILDERS[e.name]
    assert real.BUILDERS[e.name].DATASET == e.name and real.BUILDERS[e.name].__doc__


def test_cache_key_hashes_the_tables_annotation_files(tmp_path, monkeypatch):
  """The scheme of the key (folder, the readers' code, the table's annotation files) and the
  files it hashes; a change to a reader's code changes the key."""
  from jaxpose.data.builders import real
  root = str(tmp_path)
  with open(os.path.join(root, "joints.mat"), "wb") as f:
    f.write(b"12345")
  st = os.stat(os.path.join(root, "joints.mat"))
  h = hashlib.sha1(os.path.abspath(root).encode())
  h.update(hashlib.sha1(real._reader_code()).digest())
  h.update(f"joints.mat:{st.st_size}:{st.st_mtime_ns}".encode())
  assert real.fingerprint("lsp", root, 2, "skip") == f"r{h.hexdigest()[:12]}_n2_skip"
  code = real._reader_code()
  assert b"def buffy_test_box" in code and b"class PoseRecord" in code
  monkeypatch.setattr(real, "_reader_code", lambda: code + b"# changed")
  assert real.fingerprint("lsp", root, 2, "skip") != f"r{h.hexdigest()[:12]}_n2_skip"
  monkeypatch.undo()
  assert sources.get("mpii").annotation_files == (
      "mpii_annotations.json.gz", "mpii_annotations.json", os.path.join("annot", "train.json"),
      os.path.join("annot", "valid.json"), "valid.h5", "gt_valid.mat",
      os.path.join("annot", "gt_valid.mat"))
  before = real.fingerprint("lsp", root)
  monkeypatch.setitem(sources.DATASETS, "lsp",
                      dataclasses.replace(sources.get("lsp"), annotation_files=("other.txt",)))
  assert real.fingerprint("lsp", root) != before


def test_concurrent_first_uses_prepare_a_dataset_once(tmp_path, monkeypatch):
  """Two loaders of one unprepared dataset at once (the processes of a multi-host job on one
  machine did this, and the later one failed renaming TFDS's temporary folder): one prepares,
  the other waits for it and reads the prepared data. The lock is an ``flock`` on a file, which
  threads with their own open file descriptions contend for just as processes do."""
  import threading
  import time

  from jaxpose.data.builders import synthetic

  real_prepare = synthetic.SyntheticPose.download_and_prepare
  calls = []

  def slow_prepare(self, **kw):  # both loaders find the data absent before either is done
    calls.append(self.data_dir)
    time.sleep(1.0)
    return real_prepare(self, **kw)

  monkeypatch.setattr(synthetic.SyntheticPose, "download_and_prepare", slow_prepare)
  results, errors = [], []

  def load():
    try:
      b = synthetic.load_builder(6, 2, 2, seed=3, image_size=32, data_dir=str(tmp_path))
      results.append(b.info.splits["train"].num_examples)
    except Exception as e:  # noqa: BLE001 — reported below
      errors.append(e)

  threads = [threading.Thread(target=load) for _ in range(2)]
  for t in threads:
    t.start()
  for t in threads:
    t.join(timeout=300)
  assert not errors, errors
  assert results == [6, 6] and len(calls) == 1, (results, calls)
