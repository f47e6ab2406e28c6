"""HMLPE fine-tuned on Buffy (Li et al. 2014 §4.2–4.3; the recipe: configs/hmlpe_pretrain.py's
``get_config`` on Buffy): started from a pre-training run
(``init_from``, default ``runs/hmlpe_pretrain[_cpu]``), trained on Buffy episodes 3–4 in the
8-joint skeleton, tested on episodes 2, 5, 6 (276 frames) with PCP@0.5 on the arms (Table 1).
Test boxes come from the annotated head and shoulders scaled by the paper's 1.7 × 4.2 (no upper-
body detector here: jaxpose/data/sources/upper_body.py), i.e. the paper's "correct upper-body
detection" setting rather than its whole-test-set row.

  python train.py --config=configs/hmlpe_buffy.py:cpu --workdir=runs/hmlpe_buffy_cpu \
      --config.init_from=runs/hmlpe_pretrain_cpu

Fine-tuning length the paper leaves open: a tenth of the pre-training learning rate, 50 epochs
(paper budget) or 1,000 steps of batch 32 (cpu, ≈ 68 passes over the 472 frames).
"""
from jaxpose.configs import hmlpe_pretrain


def get_config(budget="paper"):
  c = hmlpe_pretrain.get_config(budget, name="hmlpe_buffy", dataset="buffy_upper_body", epochs=50,
                                learning_rate=0.001, steps=1000)
  if budget == "cpu":
    c.train.learning_rate = 1e-4
  c.init_from = "runs/hmlpe_pretrain" + ("_cpu" if budget == "cpu" else "")
  return c
