"""HMLPE (Li, Liu & Chan 2014) pre-training on the union of upper bodies (§4.1–4.2): Buffy,
FLIC, LSP and LSP extended train splits in the 8-joint skeleton, people with an occluded
upper-body joint dropped as §4.1 does (``data.name=upper_body_union_all`` keeps them),
validated on the Buffy test episodes. The recipe is ``configs.hmlpe``; the argument chooses the
budget (paper = SGD for 100 epochs, for an accelerator; cpu = about half an hour here):

  python train.py --config=configs/hmlpe_pretrain.py:cpu --workdir=runs/hmlpe_pretrain_cpu
  python train.py --config=configs/hmlpe_buffy.py:cpu --workdir=runs/hmlpe_buffy_cpu \
      --config.init_from=runs/hmlpe_pretrain_cpu

§4.5's task weights (Table 3): ``--config.loss.weights.coords=λ_R --config.loss.weights.parts=λ_P``
(λ_R/λ_P = ∞ is ``parts=0``, 0 is ``coords=0``).

The paper collects 8,427 training images from six datasets (also ETHZ, SA, WAF, not available
here); this union is what ``$JAXPOSE_DATA`` has.
"""
from jaxpose import configs


def get_config(budget="paper"):
  return configs.hmlpe("hmlpe_pretrain", "upper_body_union", budget, steps=4000)
