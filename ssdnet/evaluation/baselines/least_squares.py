"""Prior-knowledge-guided least-squares regression (after Cao et al., Multimedia Tools and
Applications 2017): a defect is a patch that the image's own normal patches cannot represent.

Patches are coded over a dictionary of the image's own patches by ridge (least-squares)
regression; the representation residual is the defect score. The prior knowledge is a cheap
first guess of where defects are - a patch's distance to the median patch, defects being
rare - and it guides which patches may enter the dictionary (a defect patch in the dictionary
would represent itself and hide).
"""
from __future__ import annotations

import numpy as np
import torch

from .common import gray, resize, spread, windows, working_shape

SHORT_SIDE = 128
PATCH = 8
STRIDE = 4
ATOMS = 200
# Ridge weight relative to the mean squared patch norm: keeps codes from chasing noise.
RIDGE = 0.05
SEED = 0


def _prior(x: torch.Tensor) -> torch.Tensor:
    """Prior defect likelihood in [0, 1] per patch: rank of its distance to the median patch."""
    dist = (x - x.median(0).values).norm(dim=1)
    return torch.argsort(torch.argsort(dist)).float() / max(dist.numel() - 1, 1)


def pg_lsr(image: np.ndarray, atoms: int = ATOMS, seed: int = SEED) -> np.ndarray:
    g = gray(image)
    shape = working_shape(*g.shape, SHORT_SIDE)
    small = resize(g, shape)
    x = windows(torch.from_numpy(small)[None], PATCH, STRIDE).double()
    prior = _prior(x)
    # Random atoms, weighted towards patches the prior calls normal; the top quarter never enters.
    weight = (1 - prior).clamp_min(0) * (prior < 0.75)
    gen = torch.Generator().manual_seed(seed)
    idx = torch.multinomial(weight, min(atoms, int((weight > 0).sum())), replacement=False, generator=gen)
    d = x[idx].T                                                      # (dim, atoms)
    lam = RIDGE * float((x ** 2).sum(1).mean())
    gram = d.T @ d + lam * torch.eye(d.shape[1], dtype=d.dtype, device=d.device)
    codes = torch.linalg.solve(gram, d.T @ x.T)                       # (atoms, patches)
    residual = (x.T - d @ codes).norm(dim=0)
    return resize(spread(residual.float(), shape, PATCH, STRIDE), g.shape)
