"""HMLPE fine-tuned on FLIC (Li et al. 2014 §4.2, §4.4; the recipe: configs/hmlpe_pretrain.py's
``get_config`` on FLIC): started from a pre-training run
(``init_from``), trained on FLIC train (3,987) in the 8-joint skeleton, tested on FLIC test
(1,016) with PCP@0.5 on the arms (Table 2) and the accuracy curves of eq. (7), r = 0…20
(Fig. 4: ``evaluate.py --curves=runs/hmlpe_flic_cpu/eval/flic_curves.png``). Test boxes: FLIC's
torso box scaled by the paper's 3.5 × 4.5 (jaxpose/data/sources/upper_body.py).

  python train.py --config=configs/hmlpe_flic.py:cpu --workdir=runs/hmlpe_flic_cpu \
      --config.init_from=runs/hmlpe_pretrain_cpu

Fine-tuning length the paper leaves open: a tenth of the pre-training learning rate, 50 epochs
(paper budget) or 1,000 steps of batch 32 (cpu, ≈ 8 passes over FLIC train).
"""
from jaxpose.configs import hmlpe_pretrain


def get_config(budget="paper"):
  c = hmlpe_pretrain.get_config(budget, name="hmlpe_flic", dataset="flic_upper_body", epochs=50,
                                learning_rate=0.001, steps=1000)
  if budget == "cpu":
    c.train.learning_rate = 1e-4
  c.eval.metrics = hmlpe_pretrain.HMLPE_METRICS + ("flic@20",)
  c.init_from = "runs/hmlpe_pretrain" + ("_cpu" if budget == "cpu" else "")
  return c
