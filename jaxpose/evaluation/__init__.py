"""Benchmark metrics (pure numpy) and their paper-style tables."""
from jaxpose.evaluation.pck import correct_mask, pck_per_joint, pckh
from jaxpose.evaluation.tables import format_table, group_table, METRICS, compute_metrics
