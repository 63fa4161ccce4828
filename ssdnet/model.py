"""The per-image network: a 3-level U-Net with a global input-to-output residual.

A pure torch module: no knowledge of corruptions, losses or images on disk.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

POOLS = 2  # max-pool levels between the input and the bottleneck
# The smallest image side the network takes. forward pads the input up to a multiple of 2**POOLS
# by reflection, and the bottleneck's 3x3 reflect-padded convolution needs at least 2 pixels
# (a reflection pad must be smaller than the side it reflects): the padded side must reach
# 2 * 2**POOLS, which the smallest side 2**POOLS + 1 does (its pad, at most 2**POOLS - 1, is
# smaller than itself). Smaller inputs fail inside torch's padding.
MIN_SIDE = 2**POOLS + 1


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, padding_mode="reflect"),
        nn.LeakyReLU(0.1, inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, padding_mode="reflect"),
        nn.LeakyReLU(0.1, inplace=True),
    )


class UNet(nn.Module):
    """Two encoder blocks, a bottleneck, two decoder blocks, skips at every level.

    ``forward(x)`` returns ``x + residual(x)``: the global residual lets the network start
    from the identity and spend its capacity on what it must change. Any input whose sides are at least
    :data:`MIN_SIDE` works: it is reflect-padded to a multiple of 4 and the output cropped back.
    """

    def __init__(self, channels: int = 1, width: int = 16):
        super().__init__()
        w1, w2, w3 = width, 2 * width, 4 * width
        self.enc1 = _block(channels, w1)
        self.enc2 = _block(w1, w2)
        self.mid = _block(w2, w3)
        self.up2 = nn.ConvTranspose2d(w3, w2, 2, stride=2)
        self.dec2 = _block(2 * w2, w2)
        self.up1 = nn.ConvTranspose2d(w2, w1, 2, stride=2)
        self.dec1 = _block(2 * w1, w1)
        self.head = nn.Conv2d(w1, channels, 1)
        # Start as the identity map: the residual branch outputs zero.
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = (-h) % 2**POOLS, (-w) % 2**POOLS
        xp = F.pad(x, (0, pw, 0, ph), mode="reflect") if (ph or pw) else x
        e1 = self.enc1(xp)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        m = self.mid(F.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([self.up2(m), e2], dim=1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], dim=1))
        out = xp + self.head(d1)
        return out[..., :h, :w]
