"""Pictures as PNG: skeleton overlays of predictions, heat maps before/after refinement, and the
learned features of HMLPE.

  python -m jaxpose.visualize overlay --workdir=DIR [--split=validation] [--num=16] [--which=best]
  python -m jaxpose.visualize heatmaps --workdir=DIR --image=PATH [--center=x,y --scale=s]
  python -m jaxpose.visualize heatmaps --workdir=DIR --index=N [--split=test]
  python -m jaxpose.visualize backtrack --workdir=DIR [--layer=3] [--num_images=200] [--show=8]
                                        [--split=train] [--out=patches.png]
  python -m jaxpose.visualize filters --workdir=DIR [--out=filters.png]

``overlay`` draws the network's predictions (thick sticks coloured by side, filled dots) and the
ground truth (thin white sticks, rings) on the evaluation crops of the first N records of a split,
exactly as evaluate.py sees them. Default output ``DIR/eval/<dataset>_<split>_overlay.png``.

``heatmaps`` draws the columns the model's family chooses (``family.heatmap_panels``): for MSN
Fig. 3 of Ke et al. 2018 (§2.2) — for one person, per joint (one row each), the heat maps
*before* the global keypoint regression network (the last conv-deconv module's GT-scale map) and
*after* it side by side, overlaid on the crop; the first row shows the pose decoded from each
column (Fig. 3 a, c). For a network without a regression stage (hourglass, PBN) there is one
column, the final maps, or with ``--stacks`` one column per stack (then the regression output
where there is one). Families without heat maps (coordinate regressors) have only ``overlay``. The figure is ``(K + 1)`` rows × columns of ``--tile``-pixel squares.
A file is cropped like the pipeline crops a record (``crop_image``: the same image → crop affine
and resampling as ``jaxpose.data.augment``); without ``--center/--scale`` the box is the whole
image (``whole_image_box``: its centre, scale = height / 200, i.e. the image height is taken as
the person height and padded by ``data.scale_pad`` like any record). Default output
``DIR/eval/heatmaps_<image stem>.png`` (``heatmaps_<dataset>_<split>_<N>.png`` for ``--index``).

Colours: left joints and limbs blue, right orange, centre (head, neck, torso) yellow. Heat maps
use the ``jet`` colour map scaled per panel to its own peak (``--vmax`` fixes the scale), and each
panel is labelled with the joint name and its peak value.

``backtrack`` and ``filters`` show the features of an HMLPE network (Li, Liu & Chan 2014 §5;
other models are refused in one line). ``filters`` is Fig. 6a: the conv1 kernels
(``HMLPE.first_layer_filters``, each min-max scaled) as an upscaled image grid, filter i at
row-major position i. ``backtrack`` is Algorithm 1 with Fig. 6b/6c and Fig. 7: for every feature
map of conv layer ``--layer`` (2 or 3), the position of its maximum activation on an image is
traced back through the shared layers to the input patch it sees (``backtrack_boxes``, from the
model's own ``layers()``); row 0 of the figure is each map's patch averaged over the first
``--num_images`` un-augmented crops of ``--split`` (default the training split, as §5 averages
over the training images; a map that never fires on an image is left out of its mean), and each
of the next ``--show`` rows is one image (Fig. 7): the crop with every map's box outlined in the
map's colour, then the maps' patches in feature order. Columns are numbered from 1, as the
paper numbers its features. Default output ``DIR/eval/backtrack_conv<L>_<dataset>_<split>.png``
and ``DIR/eval/filters_conv1.png``.
"""
from jaxpose.visualize.cli import COMMANDS, _examples, _split, flag_values, main
from jaxpose.visualize.drawing import (GT_COLOUR, NO_PATCH, SIDE_COLOURS, _as_uint8, crop_image,
                                       display, draw_skeleton, grid, heatmap_figure, heatmap_tile,
                                       image_to_crop, joint_side, limb_side, normalise, save_png,
                                       whole_image_box)
from jaxpose.visualize.features import (PatchMean, _filter_columns, backtrack_boxes,
                                        backtrack_figure, backtracked_patches, cut_patches,
                                        filters_figure, max_positions)
