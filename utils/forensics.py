"""Image forensics for the deepfake detector: a fixed high-pass layer, the average spectrum, an occlusion map.

Introduced in chapter 14 (the deepfake-detection capstone). A generator's traces live in the
finest detail of an image: a checkerboard of period 2 pixels, the lost detail of a resampled
image, the seam of a splice. Three tools look there:

- ``HighPass``: a fixed (never trained) convolution that removes the image's content and keeps
  its residual, the SRM-style second-order filter of steganalysis (Fridrich and Kodovský, 2012),
  applied to each colour channel on its own;
- ``average_log_spectrum``: the mean log-magnitude 2-D Fourier spectrum of a set of images, where
  periodic traces show as bright peaks (a period of 2 pixels at ±N/2, the image's corners and
  edge midpoints);
- ``occlusion_map``: how much the detector's score drops when each part of an image is covered,
  i.e. where it looks.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SRM_KERNEL", "HighPass", "average_log_spectrum", "occlusion_map"]

#: The 3×3 second-order residual filter ("SQUARE 3×3" of the SRM): its taps sum to 0, so flat
#: regions and linear ramps give no response, and a checkerboard of ±1 gives ±4.
SRM_KERNEL = torch.tensor([[-1.0, 2.0, -1.0],
                           [2.0, -4.0, 2.0],
                           [-1.0, 2.0, -1.0]]) / 4
LUMA = (0.299, 0.587, 0.114)  # how bright each colour channel looks


class HighPass(nn.Module):
    """A fixed high-pass residual of each channel: [N, C, H, W] → [N, C, H, W] (or [N, 2C, H, W]).

    Each channel is filtered with ``SRM_KERNEL`` (edges padded by repeating the border, so a
    constant image gives exactly 0 everywhere). ``keep_image=True`` returns the image and its
    residual side by side (2C channels), for a first layer that should see both. The kernel is a
    buffer, not a parameter: it moves with ``model.to()``, is saved in ``state_dict()``, and no
    optimizer, ``freeze()`` or ``unfreeze()`` ever trains it. Introduced in chapter 14.
    """

    def __init__(self, channels: int = 3, *, keep_image: bool = False):
        super().__init__()
        self.channels, self.keep_image = channels, keep_image
        self.register_buffer("kernel", SRM_KERNEL.expand(channels, 1, 3, 3).clone())

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4 or images.shape[1] != self.channels:
            raise ValueError(f"HighPass({self.channels}) got input of shape {tuple(images.shape)}: give a batch "
                             f"[N, {self.channels}, H, W]")
        padded = F.pad(images, (1, 1, 1, 1), mode="replicate")
        residual = F.conv2d(padded, self.kernel.to(images.dtype), groups=self.channels)
        return torch.cat([images, residual], dim=1) if self.keep_image else residual

    def extra_repr(self) -> str:
        return f"channels={self.channels}, keep_image={self.keep_image}, fixed SRM 3×3"


def _greyscale(images: torch.Tensor) -> torch.Tensor:
    """[N, H, W] from [N, H, W], [N, 1, H, W] or [N, 3, H, W] (by the channels' brightness)."""
    if images.ndim == 3:
        return images.float()
    if images.ndim == 4 and images.shape[1] == 1:
        return images[:, 0].float()
    if images.ndim == 4 and images.shape[1] == 3:
        return torch.einsum("nchw,c->nhw", images.float(), torch.tensor(LUMA, device=images.device))
    raise ValueError(f"images of shape {tuple(images.shape)}: give a batch [N, 3, H, W], [N, 1, H, W] or [N, H, W]")


def average_log_spectrum(images: torch.Tensor) -> torch.Tensor:
    """The mean over a batch of log(1 + |FFT|) of each greyscale image, centred: float32 [H, W].

    Each image (colour images are turned to grey by brightness) has its mean removed, so the
    zero frequency does not dominate. The result is ``fftshift``-ed: the zero frequency is at
    (H // 2, W // 2), and index (r, c) holds the frequency (r - H // 2, c - W // 2) in cycles per
    image, so the Nyquist frequency -N/2 is row or column 0. A pattern that repeats every 2
    pixels (a checkerboard) shows as peaks there. Introduced in chapter 14.
    """
    grey = _greyscale(images)
    if len(grey) == 0:
        raise ValueError("no images were given: the average spectrum needs at least one image")
    grey = grey - grey.mean(dim=(1, 2), keepdim=True)
    magnitude = torch.fft.fft2(grey).abs()
    return torch.fft.fftshift(torch.log1p(magnitude).mean(0), dim=(0, 1)).float()


@torch.no_grad()
def occlusion_map(model: nn.Module, image: torch.Tensor, *, patch: int = 8, stride: int = 4,
                  target: int | None = None) -> torch.Tensor:
    """Where the model looks: the drop in its score when each part of ``image`` is covered, [H, W].

    A ``patch`` × ``patch`` square, filled with the image's mean colour, slides over the image
    [C, H, W] in steps of ``stride``; every position is one image of a single batch. Each pixel
    gets the mean drop of the score (the model's output ``target``; for a one-logit detector its
    only output) over the patches that covered it: positive where covering it lowers the score,
    i.e. where the evidence is. The model runs in eval mode and is put back in the mode it was in.
    Introduced in chapter 14.
    """
    if image.ndim != 3:
        raise ValueError(f"image of shape {tuple(image.shape)}: give one image [C, H, W] (not a batch)")
    _, height, width = image.shape
    if not (isinstance(patch, int) and 1 <= patch <= min(height, width) and isinstance(stride, int)
            and 1 <= stride <= patch):
        raise ValueError(f"patch={patch!r}, stride={stride!r}: give whole numbers, the patch at most the image's "
                         f"side ({min(height, width)}) and the stride from 1 to the patch (so that every pixel "
                         "is covered)")
    tops = list(range(0, height - patch + 1, stride)) + ([height - patch] if (height - patch) % stride else [])
    lefts = list(range(0, width - patch + 1, stride)) + ([width - patch] if (width - patch) % stride else [])
    fill = image.mean(dim=(1, 2), keepdim=True)
    covered = []
    for top in tops:
        for left in lefts:
            copy = image.clone()
            copy[:, top:top + patch, left:left + patch] = fill
            covered.append(copy)
    was_training = model.training
    model.eval()
    try:
        scores = _scores(model(torch.stack([image, *covered])), target)
    finally:
        model.train(was_training)
    drops = scores[0] - scores[1:]
    total, count = torch.zeros(height, width), torch.zeros(height, width)
    for drop, (top, left) in zip(drops.cpu(), ((top, left) for top in tops for left in lefts)):
        total[top:top + patch, left:left + patch] += drop
        count[top:top + patch, left:left + patch] += 1
    return total / count


def _scores(outputs: torch.Tensor, target: int | None) -> torch.Tensor:
    """One score per image from a model's outputs [N] or [N, K]."""
    outputs = outputs.float()
    if outputs.ndim == 1 or outputs.shape[1] == 1:
        return outputs.reshape(len(outputs))
    if target is None:
        raise ValueError(f"the model gives {outputs.shape[1]} outputs per image: pass target= (the index of the "
                         "output whose score the map follows, such as the 'fake' class)")
    return outputs[:, target]
