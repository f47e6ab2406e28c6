"""DeepPose (Toshev & Szegedy 2014; the course report §2.3) on LSP at paper scale, for an
accelerator: 220×220 person crops for stage 1 and 220×220 sub-images for the refining stages,
the full AlexNet (``deeppose`` of configs/regressor_lsp.py has the recipe). One run per stage,
each reading the one before (``cascade.previous``, default ``runs/deeppose_lsp_s<s−1>``):

  python train.py --config=configs/deeppose_lsp.py:1 --workdir=runs/deeppose_lsp_s1
  python train.py --config=configs/deeppose_lsp.py:2 --workdir=runs/deeppose_lsp_s2
  python train.py --config=configs/deeppose_lsp.py:3 --workdir=runs/deeppose_lsp_s3
  python evaluate.py --workdir=runs/deeppose_lsp_s3              # the whole cascade
  python evaluate.py --workdir=runs/deeppose_lsp_s3 --stage=1    # stage 1 alone, 2 = two stages

(AlexNet at stride 4 needs ≥ 131 px; 220 is DeepPose's input.)
"""
from jaxpose.configs import regressor_lsp


def get_config(stage="1"):
  return regressor_lsp.deeppose("deeppose_lsp", stage, 220, 220)
