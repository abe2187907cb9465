"""CycleGAN losses, the paper's mask loss and the mask overlay, as pure functions.

Notation (paper §2–3): G maps A→B (ordinary → shallow depth of field), F maps B→A; D_A judges domain A,
D_B judges domain B; M is the subject mask (1 = person). Images are ``(B, 3, H, W)`` in [-1, 1]; masks
``(B, 1, H, W)`` in [0, 1] (broadcast over channels). Every function here is stateless.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F_
from torch import Tensor

__all__ = ["GAN_MODES", "gan_loss", "discriminator_loss", "cycle_loss", "identity_loss", "masked",
           "mask_norm_loss", "mask_vgg_loss", "mask_loss", "mask_overlay", "MaskOverlay", "patch_nce_loss",
           "subject_blur_penalty", "pixel_l1", "ssim_loss", "content_loss", "pynet_level_loss"]

GAN_MODES = ("lsgan", "vanilla")


def gan_loss(pred: Tensor, target_is_real: bool, mode: str = "lsgan") -> Tensor:
    """Adversarial loss on raw discriminator outputs (paper eq. 2; LSGAN form by default).

    Args:
        pred: discriminator logits, any shape (PatchGAN: ``(B, 1, H', W')``).
        target_is_real: compare with the "real" label 1 (else 0).
        mode: ``lsgan`` (mean squared error) or ``vanilla`` (binary cross-entropy on logits).

    Returns:
        Scalar loss.
    """
    target = torch.ones_like(pred) if target_is_real else torch.zeros_like(pred)
    if mode == "lsgan":
        return F_.mse_loss(pred, target)
    if mode == "vanilla":
        return F_.binary_cross_entropy_with_logits(pred, target)
    raise ValueError(f"unknown GAN mode {mode!r}; choose one of {', '.join(GAN_MODES)}")


def discriminator_loss(pred_real: Tensor, pred_fake: Tensor, mode: str = "lsgan") -> Tensor:
    """``0.5 · (L(D(real), 1) + L(D(fake), 0))``; halved as in CycleGAN so D learns slower than G."""
    return 0.5 * (gan_loss(pred_real, True, mode) + gan_loss(pred_fake, False, mode))


def cycle_loss(rec: Tensor, real: Tensor, lambda_cyc: float = 10.0) -> Tensor:
    """Cycle consistency (paper eq. 1): ``λ_cyc · ‖F(G(x)) − x‖₁`` (mean over pixels)."""
    return lambda_cyc * F_.l1_loss(rec, real)


def identity_loss(idt: Tensor, real: Tensor, lambda_cyc: float = 10.0, lambda_idt: float = 0.5) -> Tensor:
    """Identity loss ``λ_cyc · λ_idt · ‖G(y) − y‖₁`` (CycleGAN: λ_idt = 0.5 of the cycle weight)."""
    return lambda_cyc * lambda_idt * F_.l1_loss(idt, real)


def masked(x: Tensor, mask: Tensor) -> Tensor:
    """``M ⊙ x``: the person segmented out of an image (paper Fig. 6, I_R-Masked / I_F-Masked)."""
    return x * mask


def mask_norm_loss(real: Tensor, fake: Tensor, mask: Tensor) -> Tensor:
    """Norm part of the mask loss (paper eq. 11): ``‖M⊙x − M⊙G(x)‖₁`` (mean over pixels).

    L1 rather than L2 so this term cannot dominate and stop the background from being smoothed (§3.4.1).
    """
    return F_.l1_loss(masked(fake, mask), masked(real, mask))


def mask_vgg_loss(fake: Tensor, mask: Tensor, vgg: Callable[[Tensor], Tensor], real_features: Tensor) -> Tensor:
    """VGG part of the mask loss (paper eq. 12): ``‖V(M⊙x) − V(M⊙G(x))‖₁`` at VGG19 relu3_2.

    Args:
        fake: generator output ``G(x)`` (after the overlay when it is on).
        mask: ``M`` of the *input* ``x``.
        vgg: feature extractor (``gan_bokeh.nets.vgg.VGGFeatures``).
        real_features: ``V(M⊙x)``, computed once without gradient by the caller (the target needs
            none, and computing it once saves a VGG pass).
    """
    return F_.l1_loss(vgg(masked(fake, mask)), real_features)


def mask_loss(real: Tensor, fake: Tensor, mask: Tensor, *, lambda_cyc: float = 10.0, lambda_mask: float = 1.0,
              vgg: Callable[[Tensor], Tensor] | None = None, vgg_weight: float = 1.0,
              real_features: Tensor | None = None) -> dict[str, Tensor]:
    """Mask loss for one direction (paper eq. 10): ``λ_cyc · λ_mask · (L_norm + w_vgg · L_vgg)``.

    Args:
        real: the generator input ``x``; fake: ``G(x)``; mask: ``M`` of ``x``.
        vgg: feature extractor; required when ``vgg_weight > 0``.
        real_features: optional precomputed ``V(M⊙x)`` (else computed here under ``no_grad``).

    Returns:
        ``{"norm": λ_cyc·λ_mask·L_norm, "vgg": λ_cyc·λ_mask·w_vgg·L_vgg}`` (``vgg`` only when
        ``vgg_weight > 0``) — the weighted terms as they enter the generator loss.
    """
    scale = lambda_cyc * lambda_mask
    out = {"norm": scale * mask_norm_loss(real, fake, mask)}
    if vgg_weight > 0:
        if vgg is None:
            raise ValueError("mask_loss: vgg_weight > 0 needs a VGG feature extractor")
        if real_features is None:
            with torch.no_grad():
                real_features = vgg(masked(real, mask))
        out["vgg"] = scale * vgg_weight * mask_vgg_loss(fake, mask, vgg, real_features)
    return out


def mask_overlay(fake: Tensor, real: Tensor, mask: Tensor) -> Tensor:
    """Mask overlay (paper eq. 13, Fig. 7): ``G(x) ⊙ (1 − M) + x ⊙ M``.

    The real subject replaces whatever the generator made of it, so losses only see the generator's
    background. Exactly ``x`` where ``M = 1`` and exactly ``G(x)`` where ``M = 0``.

    Shapes: ``fake``/``real`` ``(B, C, H, W)``; ``mask`` ``(B, 1, H, W)`` or ``(B, C, H, W)`` in [0, 1].
    """
    return fake * (1.0 - mask) + real * mask


class MaskOverlay(torch.nn.Module):
    """Module wrapper of :func:`mask_overlay`."""

    def forward(self, fake: Tensor, real: Tensor, mask: Tensor) -> Tensor:
        return mask_overlay(fake, real, mask)


def patch_nce_loss(feat_q: Tensor, feat_k: Tensor, tau: float = 0.07) -> Tensor:
    """PatchNCE (Park et al., ECCV 2020, eq. 2–3) for one encoder layer, negatives from the same image.

    Each query patch of the output must pick its own input patch (the positive) out of all patches sampled
    from the same input image: cross-entropy over ``[q·k⁺, q·k⁻₁, …] / τ`` with the positive first. As in
    CUT, the positive's duplicate in the negative row is masked with −10 (≈ 0 after ``exp(·/τ)``) and the
    keys carry no gradient.

    Args:
        feat_q: ``(B, P, C)`` unit-norm projections of the output's patches (gradient flows here).
        feat_k: ``(B, P, C)`` unit-norm projections of the input's patches at the same places.
        tau: temperature (0.07 in CUT).

    Returns:
        Scalar: mean over the ``B·P`` patches.
    """
    if feat_q.shape != feat_k.shape or feat_q.ndim != 3:
        raise ValueError(f"expected equal (B, P, C) features, got {tuple(feat_q.shape)} and {tuple(feat_k.shape)}")
    q, k = feat_q.float(), feat_k.detach().float()
    b, p, _ = q.shape
    l_pos = (q * k).sum(-1, keepdim=True)  # (B, P, 1)
    l_neg = torch.bmm(q, k.transpose(1, 2))  # (B, P, P)
    eye = torch.eye(p, dtype=torch.bool, device=q.device)[None]
    l_neg = l_neg.masked_fill(eye, -10.0)
    logits = torch.cat([l_pos, l_neg], dim=-1).flatten(0, 1) / tau
    target = torch.zeros(b * p, dtype=torch.long, device=q.device)
    return F_.cross_entropy(logits, target)


def subject_blur_penalty(radius: Tensor, mask: Tensor, max_radius: float) -> Tensor:
    """The mask loss of a rendering generator: mean blur radius inside the subject, as a fraction of the
    largest radius: ``Σ M·r / (max_radius · Σ M)`` (0 when the subject stays sharp, 1 when fully blurred).

    Shapes: ``radius`` and ``mask`` ``(B, 1, H, W)``; an empty mask gives 0.
    """
    return (radius * mask).sum() / (max_radius * mask.sum()).clamp_min(1e-6)


# -- paired (PyNET) losses ----------------------------------------------------------------------------------
# Ignatov, Patel, Timofte, "Rendering Natural Camera Bokeh Effect with Deep Learning" (CVPR-W 2020), the
# authors' training recipe: L1 alone at the coarse levels; L1 + VGG19 relu5_4 content + (1 − SSIM) at the
# finest. Images ``(B, 3, H, W)`` in [-1, 1]; L1 and SSIM are measured on [0, 1] as the authors do.


def pixel_l1(out: Tensor, target: Tensor) -> Tensor:
    """Mean absolute error on the [0, 1] scale (``‖out − target‖₁ / 2`` for [-1, 1] images)."""
    return 0.5 * F_.l1_loss(out, target)


def ssim_loss(out: Tensor, target: Tensor, window: int = 11) -> Tensor:
    """``1 − SSIM`` (Gaussian window 11, σ = 1.5, as ``tf.image.ssim``) on the [0, 1] scale, mean over the
    batch; sides must be >= ``window``."""
    from kornia.metrics import ssim

    a, b = (out.float() + 1) / 2, (target.float() + 1) / 2
    return 1.0 - ssim(a, b, window, max_val=1.0).mean()


def content_loss(out: Tensor, target_features: Tensor, vgg: Callable[[Tensor], Tensor]) -> Tensor:
    """MSE between the VGG features of ``out`` and precomputed ``target_features`` (PyNET's content loss)."""
    return F_.mse_loss(vgg(out), target_features)


def pynet_level_loss(out: Tensor, target: Tensor, *, fine: bool, pixel_weight: float = 100.0,
                     fine_pixel_weight: float = 10.0, content_weight: float = 330.0, ssim_weight: float = 10.0,
                     vgg: Callable[[Tensor], Tensor] | None = None) -> dict[str, Tensor]:
    """The weighted loss terms of one PyNET level.

    Args:
        out, target: level output and target, same shape, [-1, 1].
        fine: the finest levels' recipe (L1 + content + SSIM) instead of L1 alone.
        vgg: feature extractor, needed when ``fine`` and ``content_weight > 0``.

    Returns:
        ``{"l1": …}`` at coarse levels; ``{"l1", "content", "ssim"}`` at fine ones (weights applied; a zero
        weight leaves its term out).
    """
    out, target = out.float(), target.float()
    if not fine:
        return {"l1": pixel_weight * pixel_l1(out, target)}
    terms = {"l1": fine_pixel_weight * pixel_l1(out, target)}
    if content_weight > 0:
        if vgg is None:
            raise ValueError("pynet_level_loss: content_weight > 0 needs a VGG feature extractor")
        with torch.no_grad():
            feats = vgg(target)
        terms["content"] = content_weight * content_loss(out, feats, vgg)
    if ssim_weight > 0:
        terms["ssim"] = ssim_weight * ssim_loss(out, target)
    return terms
