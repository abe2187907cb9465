"""The evaluation room: image-quality metrics (pure functions), FID/KID, folder evaluation.

Import cost is kept low: FID/KID (torch, torchmetrics) load only when used.
"""

from gan_bokeh.evaluate.metrics import (
    background_region,
    bg_hf_ratio,
    boundary_band,
    edge_halo,
    fit_gain,
    laplacian,
    psnr,
    psnr_from_mse,
    ssim,
    ssim_map,
    subject_psnr,
    subject_ssim,
)
from gan_bokeh.evaluate.runner import (
    METRIC_KEYS,
    evaluate_folders,
    evaluate_pair,
    format_table,
    mean_metrics,
    write_metrics,
)

__all__ = [
    "METRIC_KEYS", "background_region", "bg_hf_ratio", "boundary_band", "edge_halo", "evaluate_folders",
    "evaluate_pair", "fit_gain", "format_table", "laplacian", "mean_metrics", "psnr", "psnr_from_mse",
    "ssim", "ssim_map", "subject_psnr", "subject_ssim", "write_metrics",
]
