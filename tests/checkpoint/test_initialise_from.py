"""Initialising from another run's parameters (``checkpoint.initialise_from``, the surgery behind
``init_from``): shared leaves copied, the others kept fresh and named, mismatches refused naming
the checkpoint and the leaf. The whole path through ``loop.train``:
tests/training/test_regressor_training.py."""
import numpy as np
import pytest

from jaxpose import checkpoint

WHERE = "runs/p1/checkpoints/6"


def _fresh():
  return {"params": {"conv": {"kernel": np.zeros((3, 4), np.float32),
                              "bias": np.zeros(4, np.float32)},
                     "head": {"kernel": np.zeros((4, 2), np.float32)}},
          "batch_stats": {"bn": {"mean": np.zeros(4, np.float32)}}}


def test_shared_leaves_are_copied_and_the_rest_named():
  stored = {"params": {"conv": {"kernel": np.ones((3, 4), np.float64),
                                "bias": np.ones(4, np.float32)},
                       "old_head": {"kernel": np.ones((4, 9), np.float32)}}}
  lines = []
  merged = checkpoint.initialise_from(_fresh(), stored, WHERE, "init_from=runs/p1",
                                      say=lines.append)
  conv = merged["params"]["conv"]
  assert conv["kernel"].dtype == np.float32 and np.all(np.asarray(conv["kernel"]) == 1)
  assert np.all(np.asarray(merged["params"]["head"]["kernel"]) == 0)  # kept fresh
  assert np.all(np.asarray(merged["batch_stats"]["bn"]["mean"]) == 0)  # none stored
  assert lines == [f"init_from {WHERE}: copied 2 arrays; fresh (not in the checkpoint): "
                   "params/head, batch_stats/bn",
                   f"init_from {WHERE}: not used (not in this network): params/old_head"]


def test_mismatches_and_frozen_fresh_parameters_are_refused():
  bad = {"params": {"conv": {"kernel": np.ones((3, 5), np.float32)}}}
  with pytest.raises(checkpoint.CheckpointError,
                     match=r"checkpoints/6: params/conv/kernel has shape \(3, 5\), this network "
                           r"has \(3, 4\)"):
    checkpoint.initialise_from(_fresh(), bad, WHERE, "init_from=runs/p1")
  with pytest.raises(checkpoint.CheckpointError, match="init_from=runs/p1: .* shares no parameter"):
    checkpoint.initialise_from(_fresh(), {"params": {"x": np.ones(2)}}, WHERE, "init_from=runs/p1")
  with pytest.raises(checkpoint.CheckpointError, match="is a layer, this network has an array"):
    checkpoint.initialise_from(_fresh(), {"params": {"conv": {"bias": {"b": np.ones(4)}}}}, WHERE,
                               "init_from=runs/p1")
  only_conv = {"params": {"conv": {"kernel": np.ones((3, 4)), "bias": np.ones(4)}}}
  with pytest.raises(checkpoint.CheckpointError, match="has no params/head/kernel, which "
                                                       "train.frozen / train.trainable freeze"):
    checkpoint.initialise_from(_fresh(), only_conv, WHERE, "init_from=runs/p1",
                               is_frozen=lambda name: name == "head")
  checkpoint.initialise_from(_fresh(), only_conv, WHERE, "init_from=runs/p1",
                             is_frozen=lambda name: name == "conv")  # the frozen part is there
