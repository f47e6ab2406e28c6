"""VGG-19 (configs/regressor_vgg19_lsp.py) in the reduced CPU comparison
(``common.regressor_cpu_budget``): all 16 convolutions at an eighth of the filters (8 … 64), so fc1
reads 3×3×64 values at 112 px; 1,024-wide fully connected layers, no BatchNorm.
"""
from jaxpose.configs import common, regressor_lsp


def get_config(phase="1"):
  c = regressor_lsp.get_config(phase, name="regressor_vgg19_lsp_cpu", model="vgg19",
                               image_size=112, width_mult=0.125, fc_features=(1024, 1024))
  return common.regressor_cpu_budget(c)
