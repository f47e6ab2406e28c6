"""PBN part groups in configs (Tang & Wu 2019 §3.1, §4.3): model.grouping resolved at start-up
into model.groups, carried by every checkpoint, kept on resume."""
import json
import os
import types

import ml_collections
import numpy as np
import pytest

from jaxpose import grouping, inference, models
from jaxpose import skeleton as S
from jaxpose.grouping import resolve
from jaxpose.models.pbn import MPII_STAT_GROUPS, PBN
from jaxpose import checkpoint
from jaxpose.training import loop
from conftest import DATA



def _tiny_pbn(**grouping_kw):
  """The conftest tiny config with a 1-stack, 16-channel PBN (64×64 input, depth-2 hourglass)."""
  from conftest import tiny_config
  c = tiny_config()
  c.name = "tiny_pbn"
  c.model = ml_collections.ConfigDict({
      "name": "pbn", "num_joints": 16, "num_stacks": 1, "features": 16, "branch_width": 8,
      "branch_depth": 1, "depth": 2, "num_blocks": 1, "head": "branches", "fusion": "shared",
      "dtype": "float32", "groups": (),
      "grouping": resolve.spec(**dict(dict(strategy="stat", k=4, seed=0), **grouping_kw))})
  c.train.num_steps = 2
  c.train.checkpoint_every = 1
  c.train.eval_every = 2
  c.train.log_every = 1
  return c


def _fake_mpii_records(n=1500, seed=0):
  """MPII-sized poses in four independent blocks of joints (legs, hips+pelvis, arms, head),
  each block a rigid shape moving over the crop, so MI is high within and ~0 across."""
  labels = np.array([0, 0, 1, 1, 0, 0, 1, 3, 3, 3, 2, 2, 3, 3, 2, 2])
  rng = np.random.default_rng(seed)
  offset = rng.integers(0, 8, size=(16, 2))
  latent = rng.integers(0, 8, size=(n, 4, 2))
  cells = latent[:, labels] + offset  # 0..14 on a 16×16 lattice
  center, scale = np.array([300.0, 200.0]), 2.0  # crop side 1.25·200·2 = 500 px
  xy = center + 500 * ((cells + 0.5) / 16 - 0.5)
  recs = [types.SimpleNamespace(joints=np.concatenate([xy[i], np.ones((16, 1))], 1),
                                valid=np.ones(16), center=center, scale=scale) for i in range(n)]
  expected = grouping.canonical(np.flatnonzero(labels == b) for b in range(4))
  return recs, expected


def _data(name="mpii", **kw):
  return ml_collections.ConfigDict(dict(dict(name=name, root="", skeleton="", train_split="train",
                                             limit=0, on_error="raise"), **kw))


# ---- resolution of each strategy ----

def test_stat_reads_annotations_of_the_training_split(monkeypatch):
  from jaxpose.data import sources
  records, expected = _fake_mpii_records()
  calls = []

  def fake_read_split(name, split, root=None, on_error="raise", *, limit=None):
    calls.append((name, split, root, on_error, limit))
    return records

  monkeypatch.setattr(sources, "read_split", fake_read_split)
  res = grouping.compute(resolve.spec("stat", k=4), _data(root="/nowhere", limit=7))
  assert res.groups == expected and res.mi.shape == (16, 16)
  assert calls == [("mpii", "train", "/nowhere", "raise", 7)]
  assert "k=4" in res.source and "mpii/train, 1500 poses, crop" in res.source
  # The spec's own split wins over data.train_split; "a+b" joins splits.
  grouping.compute(resolve.spec("stat", k=4, split="train+validation"), _data())
  assert [c[1] for c in calls[1:]] == ["train", "validation"]
  # §4.3 overlap on computed groups: each shoulder also joins its elbow's group.
  over = grouping.compute(resolve.spec("stat", k=4, overlap="paper"), _data()).groups
  counts = np.bincount([j for g in over for j in g], minlength=16)
  assert counts[S.MPII.index("l_shoulder")] == 2 and counts.sum() == 18


def test_synthetic_annotations_come_from_the_training_records(cache_dir):
  from jaxpose.data.sources import synthetic
  c = _tiny_pbn()
  arr = resolve.annotations(c.data)
  s = c.data.synthetic
  recs = list(synthetic.generate("train", s.train_size, seed=s.seed, image_size=s.image_size))
  assert arr["joints"].shape == (s.train_size, 16, 2)
  np.testing.assert_allclose(arr["joints"], np.stack([r.joints[:, :2] for r in recs]), atol=1e-4)
  np.testing.assert_array_equal(arr["valid"], np.stack([r.valid for r in recs]))
  np.testing.assert_allclose(arr["scales"], [r.scale for r in recs], rtol=1e-6)
  res = grouping.compute(c.model.grouping, c.data)
  assert len(res.groups) == 4 and sorted(j for g in res.groups for j in g) == list(range(16))
  again = grouping.compute(c.model.grouping, c.data)  # deterministic for a seed
  assert again.groups == res.groups and np.array_equal(again.mi, res.mi)
  expected = grouping.spectral_groups(grouping.affinity(grouping.joint_mutual_information(
      arr["joints"], arr["valid"], arr["centers"], arr["scales"])), 4, seed=0)
  assert res.groups == expected


def test_body_strategy_and_overlap():
  res = grouping.compute(resolve.spec("body"), _data())
  assert res.groups == grouping.body_groups(S.MPII) and res.mi is None
  lsp = grouping.compute(resolve.spec("body", overlap="paper"), _data("lsp_lspet"))
  names = {frozenset(g) for g in grouping.group_names(lsp.groups, S.LSP)}
  assert frozenset(("l_wrist", "l_elbow", "l_shoulder")) in names and len(lsp.groups) == 6
  with pytest.raises(ValueError, match="no handcrafted groups for skeleton 'flic'"):
    grouping.compute(resolve.spec("body"), _data("flic"))


def test_file_strategy(tmp_path):
  path = str(tmp_path / "groups.json")
  fig2b = grouping.canonical(MPII_STAT_GROUPS)
  mi = np.eye(16) + 0.1
  grouping.save_groups(path, fig2b, S.MPII, mi)
  res = grouping.compute(resolve.spec("file", file=path), _data())
  assert res.groups == fig2b and path in res.source
  np.testing.assert_array_equal(res.mi, mi)
  # "affinity" overlap uses the file's MI: r_ankle and head_top made the one strong pair.
  mi[0, 9] = mi[9, 0] = 5.0
  grouping.save_groups(path, fig2b, S.MPII, mi)
  over = grouping.compute(resolve.spec("file", file=path, overlap="affinity",
                                       overlap_threshold=0.9), _data()).groups
  head = next(g for g in over if S.MPII.index("head_top") in g)
  assert S.MPII.index("r_ankle") in head
  assert sum(len(g) for g in over) == 16 + 2  # ankle joins the head group and head top the legs'


def test_groups_file_with_other_joints_is_refused_by_name(tmp_path):
  path = str(tmp_path / "lsp_groups.json")
  grouping.save_groups(path, grouping.body_groups(S.LSP), S.LSP)
  with pytest.raises(ValueError, match=r"(?s)lsp_groups\.json.*mpii skeleton.*'pelvis'.*'neck'"):
    grouping.compute(resolve.spec("file", file=path), _data("mpii"))
  with pytest.raises(ValueError, match="not found: .*missing.json"):
    grouping.compute(resolve.spec("file", file=str(tmp_path / "missing.json")), _data())
  with open(path, "w") as f:
    f.write("not json")
  with pytest.raises(ValueError, match="not a groups JSON"):
    grouping.compute(resolve.spec("file", file=path), _data())


def test_bad_specs():
  for kw, match in ((dict(strategy="mi"), "strategy='mi'"), (dict(k=17), "k=17"),
                    (dict(overlap="yes"), "overlap='yes'"), (dict(method="kmeans"), "method"),
                    (dict(strategy="file"), "needs model.grouping.file"),
                    (dict(strategy="explicit", overlap="paper"), "write the overlapping")):
    with pytest.raises(ValueError, match=match):
      grouping.check_spec(resolve.spec(**dict(dict(strategy="stat"), **kw)), S.MPII)
  armless = types.SimpleNamespace(name="legs", joints=("r_ankle", "l_ankle", "r_shoulder"),
                                  num_joints=3)
  with pytest.raises(ValueError, match=r"needs joints \['l_shoulder', 'l_elbow', 'r_elbow'\]"):
    grouping.check_spec(resolve.spec("stat", k=2, overlap="paper"), armless)


def test_explicit_groups_and_unresolved_strategies():
  c = _tiny_pbn(strategy="explicit")
  with pytest.raises(ValueError, match="'explicit' needs model.groups"):
    grouping.resolve_config(c)
  c.model.groups = ((3, 1), (0, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15))
  same, res = grouping.resolve_config(c)
  assert same is c and res is None  # groups already set: used exactly as written
  assert models.create(c.model).groups == ((3, 1), (0, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15))
  for strategy in ("stat", "body", "file", "explicit"):
    unresolved = _tiny_pbn(strategy=strategy)
    with pytest.raises(ValueError, match=f"strategy='{strategy}' is not resolved"):
      models.create(unresolved.model)
  with pytest.raises(ValueError, match="'hourglass' has no groups field"):
    models.create({"name": "hourglass", "grouping": resolve.spec("body")})
  # A resolved config builds; the original is left alone (resolution works on a copy).
  unresolved = _tiny_pbn(strategy="body")
  resolved, res = grouping.resolve_config(unresolved)
  assert models.create(resolved.model).groups == grouping.body_groups(S.MPII) == res.groups
  assert unresolved.model.groups == ()


def test_checkpoint_save_restore_keeps_the_groups(tmp_path):
  import jax.numpy as jnp
  c = _tiny_pbn()
  groups = ((9, 8, 7, 12, 13), (2, 3, 6), (11, 10, 12), (14, 15, 13), (1, 4, 0, 5))  # as given
  c.model.groups = groups
  mngr = checkpoint.manager(str(tmp_path))
  checkpoint.save(mngr, 1, {"w": jnp.ones(3)}, c)
  back = checkpoint.restore_config(mngr, 1)
  assert models.create(back.model).groups == groups  # overlapping, order kept: same branches
  assert back.model.grouping.to_dict() == c.model.grouping.to_dict()
  checkpoint.check_compatible(back, c, "here")
  mngr.close()


# ---- through the real training loop ----

@pytest.fixture(scope="module")
def pbn_run(tmp_path_factory, cache_dir):
  """A tiny PBN with grouping "stat", stopped after its step-1 checkpoint."""
  config = _tiny_pbn()
  workdir = str(tmp_path_factory.mktemp("pbn_run"))
  loop.train(config, workdir, stop_at=1)
  expected = grouping.compute(config.model.grouping, config.data).groups
  return config, workdir, expected


@pytest.mark.slow
def test_training_stores_the_resolved_groups(pbn_run):
  config, workdir, expected = pbn_run
  assert config.model.groups == ()  # the caller's config is not modified
  mngr = checkpoint.manager(workdir, read_only=True)
  assert mngr.latest_step() == 1
  saved = checkpoint.restore_config(mngr, 1)
  assert tuple(map(tuple, saved.model.groups)) == expected
  assert saved.model.grouping.to_dict() == config.model.grouping.to_dict()
  with open(os.path.join(workdir, "config.json")) as f:
    assert [tuple(g) for g in json.load(f)["model"]["groups"]] == list(expected)
  assert grouping.load_groups(os.path.join(workdir, "groups.json"), S.MPII).groups == expected
  pred = inference.load(workdir)
  built = models.create(grouping.resolve_config(config)[0].model)
  fields = lambda m: {f: getattr(m, f) for f in models.fields(PBN)}
  assert fields(pred.model) == fields(built) and pred.model.groups == expected
  branches = pred.variables["params"]["branches0"]
  assert [branches[f"score{g}"]["kernel"].shape[-1] for g in range(len(expected))] == [
      len(g) for g in expected]


@pytest.mark.slow
def test_resume_uses_the_stored_groups(pbn_run, monkeypatch):
  config, workdir, expected = pbn_run

  def no_recompute(*args, **kwargs):
    raise AssertionError("a resumed run must not recompute its groups")

  monkeypatch.setattr(resolve, "compute", no_recompute)
  loop.train(config, workdir)
  mngr = checkpoint.manager(workdir, read_only=True)
  assert mngr.latest_step() == 2
  assert tuple(map(tuple, checkpoint.restore_config(mngr, 2).model.groups)) == expected
  assert inference.load(workdir).model.groups == expected


@pytest.mark.slow
def test_resume_with_another_grouping_is_refused(pbn_run):
  config, workdir, _ = pbn_run
  other = config.copy_and_resolve_references()
  other.model.grouping.k = 3
  with pytest.raises(checkpoint.CheckpointError, match=r"model.grouping: checkpoint has"):
    loop.train(other, workdir)


# ---- the paper recipes on the real annotations (skipped where the data is absent) ----

def _recipe(name):
  import importlib
  return importlib.import_module(f"configs.{name}").get_config()


@pytest.mark.slow
def test_pbn_mpii_resolves_to_fig2b():
  root = os.path.join(DATA, "mpii")
  if not os.path.exists(os.path.join(root, "mpii_annotations.json.gz")):
    pytest.skip(f"MPII annotations not found under {root}")
  c = _recipe("pbn_mpii")
  c.data.root = root
  resolved, res = grouping.resolve_config(c)
  assert res.groups == grouping.canonical(MPII_STAT_GROUPS)  # Fig. 2(b)
  assert "22246 poses" in res.source
  assert models.create(resolved.model).groups == res.groups


@pytest.mark.slow
def test_pbn_lsp_groups_from_lsp_and_lspet():
  if not all(os.path.exists(os.path.join(DATA, d, "joints.mat")) for d in ("lsp", "lspet")):
    pytest.skip(f"LSP / LSPET joints.mat not found under {DATA}")
  c = _recipe("pbn_lsp")
  c.data.root = DATA
  resolved, res = grouping.resolve_config(c)
  assert "lsp_lspet/train, 11000 poses, box" in res.source
  named = {frozenset(g) for g in grouping.group_names(res.groups, S.LSP)}
  assert named == {frozenset(g) for g in (
      ("r_ankle", "r_knee"), ("l_knee", "l_ankle"), ("r_hip", "l_hip"),
      ("r_wrist", "r_elbow", "l_elbow", "l_wrist"), ("r_shoulder", "l_shoulder", "neck", "head_top"))}
  assert resolved.model.num_joints == 14 and models.create(resolved.model).num_joints == 14
