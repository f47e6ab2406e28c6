"""DeepPose on LSP sized for a 2-core CPU (issue #16: three stages in about an hour): stage 1 is
configs/regressor_alexnet_lsp_cpu.py's AlexNet (112-px crops, conv1 at stride 2, a quarter of the
filters, 1,024-wide fc6/fc7) without the visibility head, the refining stages the same network
on 72-px sub-images (its smallest input), each stage 2,000 steps of batch 16 with Adam 3e-4,
BatchNorm after every convolution and no dropout (``common.regressor_cpu_budget``) and a 384-px
canvas (LSP's people fit it unscaled); the recipe is ``deeppose`` of configs/regressor_lsp.py:

  python train.py --config=configs/deeppose_lsp_cpu.py:1 --workdir=runs/deeppose_lsp_cpu_s1
  python train.py --config=configs/deeppose_lsp_cpu.py:2 --workdir=runs/deeppose_lsp_cpu_s2
  python train.py --config=configs/deeppose_lsp_cpu.py:3 --workdir=runs/deeppose_lsp_cpu_s3
  for t in 1 2 3; do python evaluate.py --workdir=runs/deeppose_lsp_cpu_s3 --stage=$t; done
"""
from jaxpose.configs import common, regressor_lsp


def get_config(stage="1"):
  c = regressor_lsp.deeppose("deeppose_lsp_cpu", stage, 112, 72, stem_stride=2, width_mult=0.25,
                             fc_features=(1024, 1024))
  c.cascade.canvas = 384
  return common.regressor_cpu_budget(c)
