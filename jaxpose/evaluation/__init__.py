"""Benchmark metrics (pure numpy) and their paper-style tables.

``compute_metrics`` is the registry entry point (names in ``tables``' docstring);
``mpii_format`` scores official MPII predictions files (``jaxpose.formats.mpii`` reads and
writes them); ``curves`` holds the FLIC accuracy curves of Li et al. eq. (7).
"""
from jaxpose.evaluation.pck import (area_under_curve, correct_mask, pck_curve, pck_per_joint,
                                    pckh, torso_norm)
from jaxpose.evaluation.pcp import pcp_mask, pcp_per_part
from jaxpose.evaluation.curves import flic_curves, plot_curves
from jaxpose.evaluation.metrics import METRICS, compute_metrics, parse
from jaxpose.evaluation.tables import format_table, group_table, joint_table
