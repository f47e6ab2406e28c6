"""VGG-19 (configs/regressor_vgg19_lsp.py) in the reduced CPU comparison
(configs.regressor_cpu_budget): all 16 convolutions at an eighth of the filters (8 … 64), so fc1
reads 3×3×64 values at 112 px; 1,024-wide fully connected layers, no BatchNorm.
"""
from jaxpose import configs


def get_config(phase="1"):
  c = configs.regressor_lsp("regressor_vgg19_lsp_cpu", "vgg19", 112, phase, width_mult=0.125,
                            fc_features=(1024, 1024))
  return configs.regressor_cpu_budget(c)
