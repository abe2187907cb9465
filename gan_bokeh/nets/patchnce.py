"""The patch sampler and projection head of PatchNCE (Park et al., ECCV 2020, "Contrastive Learning for
Unpaired Image-to-Image Translation"): per encoder layer, pick the same random spatial locations in the
features of the input and of the output, and map each location's feature vector through a 2-layer MLP to
a unit vector. The contrastive loss itself is :func:`gan_bokeh.losses.patch_nce_loss`."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gan_bokeh.nets.layers import init_weights

__all__ = ["PatchSampleMLP"]


class PatchSampleMLP(nn.Module):
    """One ``Linear → ReLU → Linear`` head per encoder layer (CUT's ``mlp_sample``, ``netF_nc = 256``).

    Args:
        in_channels: channels of each encoder layer's features (see
            :meth:`gan_bokeh.nets.generators.ResnetGenerator.feature_channels`).
        nc: projection width (256 in CUT).

    Shape:
        ``forward(feats, num_patches, patch_ids)``: ``feats[l]`` is ``(B, C_l, H_l, W_l)``; returns
        ``([(B, P_l, nc)] unit vectors, [patch ids (P_l,)])`` with ``P_l = min(num_patches, H_l·W_l)``.
        Passing the ids returned for the input features samples the output features at the same places.
    """

    def __init__(self, in_channels: list[int], nc: int = 256) -> None:
        super().__init__()
        self.in_channels, self.nc = list(in_channels), nc
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Linear(c, nc), nn.ReLU(inplace=True), nn.Linear(nc, nc)) for c in in_channels)
        init_weights(self)

    def forward(self, feats: list[Tensor], num_patches: int = 256,
                patch_ids: list[Tensor] | None = None) -> tuple[list[Tensor], list[Tensor]]:
        if len(feats) != len(self.heads):
            raise ValueError(f"expected {len(self.heads)} feature maps, got {len(feats)}")
        out, ids = [], []
        for i, (f, head) in enumerate(zip(feats, self.heads, strict=True)):
            flat = f.flatten(2).transpose(1, 2)  # (B, H·W, C)
            if patch_ids is not None:
                pid = patch_ids[i]
            else:  # the same locations for every image of the batch, as in CUT
                pid = torch.randperm(flat.shape[1], device=f.device)[: min(num_patches, flat.shape[1])]
            z = head(flat[:, pid, :].float())
            out.append(nn.functional.normalize(z, dim=-1))
            ids.append(pid)
        return out, ids
