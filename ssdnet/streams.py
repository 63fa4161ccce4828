"""Counter-based random streams: one per image of a packed fit, drawn for all at once.

A draw is a hash of (the stream's key, the element's index), so K images' patches and
corruptions come out of a few batched tensor ops on the images' own device: no Python loop
over the images, no generator state, no host-to-device copies. What image i draws depends
only on its own key and the draw's shape, never on its pack companions, and the integer
draws are the same numbers on any device.

The hash is ``lowbias32`` (C. Wellons' 32-bit integer hash) in int32 tensors: their
products wrap modulo 2**32 on CPUs and GPUs alike, which is the unsigned arithmetic the hash
wants, and its logical right shifts are arithmetic shifts with the sign bits masked off. int32
rather than int64 with ``& 0xFFFFFFFF`` after every product: half the memory traffic, and a
49k-word draw 2.3x faster on a CPU.
"""
from __future__ import annotations

import functools
import math

import torch

MASK = 0xFFFFFFFF
_TWO_PI = 2 * math.pi
_UNIT16 = 2.0 ** -16


def _mix(x: int) -> int:
    """``lowbias32`` of a Python int: keys are made on the host, once per fit."""
    x &= MASK
    x ^= x >> 16
    x = (x * 0x7FEB352D) & MASK
    x ^= x >> 15
    x = (x * 0x846CA68B) & MASK
    return x ^ (x >> 16)


def _signed(x: int) -> int:
    """A 32-bit value as the int32 that holds its bits."""
    return x - (1 << 32) if x >= 1 << 31 else x


@functools.cache
def _constants(device: torch.device) -> dict[str, torch.Tensor]:
    """The hash's constants as int32 scalars on ``device``: an op with a Python number wraps it
    into a tensor each time, which doubled the cost of these small ops on a CPU."""
    values = {"s8": 8, "s15": 15, "s16": 16, "m15": 0x1FFFF, "m16": 0xFFFF, "m24": 0xFFFFFF,
              "c1": 0x7FEB352D, "c2": _signed(0x846CA68B)}
    stacked = torch.tensor(list(values.values()), dtype=torch.int32, device=device)
    return dict(zip(values, stacked.unbind()))


def _mix_(x: torch.Tensor, k: dict[str, torch.Tensor]) -> torch.Tensor:
    """``lowbias32`` of an int32 tensor, in place (fewer temporaries), ``k``: :func:`_constants`."""
    x.bitwise_xor_((x >> k["s16"]).bitwise_and_(k["m16"])).mul_(k["c1"])
    x.bitwise_xor_((x >> k["s15"]).bitwise_and_(k["m15"])).mul_(k["c2"])
    return x.bitwise_xor_((x >> k["s16"]).bitwise_and_(k["m16"]))


class Streams:
    """K independent random streams, each a pair of 32-bit key words.

    ``keys`` is int32 (K, ..., 2). Every draw method returns (K, ..., *shape) and is a pure
    function of the keys and the shape: draw twice and you get the same numbers, so each
    draw takes its own stream (``split`` then index).
    """

    def __init__(self, keys: torch.Tensor):
        self.keys = keys

    @classmethod
    def from_seeds(cls, seeds: list[int], device: torch.device | str) -> Streams:
        """One stream per seed (any int; only its low 64 bits count)."""
        words = []
        for seed in seeds:
            seed &= (1 << 64) - 1
            a = _mix(_mix((seed >> 32) ^ 0x6A09E667) ^ seed)
            words.append([_signed(a | 1), _signed(_mix(a ^ 0xBB67AE85))])
        return cls(torch.tensor(words, dtype=torch.int32, device=device).view(len(seeds), 2))

    @property
    def device(self) -> torch.device:
        return self.keys.device

    def __getitem__(self, index) -> Streams:
        """Child streams along the dimensions ``split`` added (a view: no computation)."""
        index = index if isinstance(index, tuple) else (index,)
        return Streams(self.keys[(slice(None), *index)])

    def split(self, *shape: int) -> Streams:
        """``shape`` child streams per stream, (K, ..., *shape, 2): one batched hash for all."""
        keys = self.bits(*shape, 2)
        keys[..., 0].bitwise_or_(1)  # the stride must be odd
        return Streams(keys)

    def bits(self, *shape: int) -> torch.Tensor:
        """Uniform 32-bit words, as int32 (negative where the top bit is set)."""
        n = math.prod(shape)
        lead = self.keys.shape[:-1]
        a, b = self.keys[..., 0:1], self.keys[..., 1:2]  # (K, ..., 1): views, broadcast over the draw
        # One round of the hash over an odd-stride progression: element i hashes a * i + b, a
        # bijection of i, so a stream never repeats a word within 2**32. Two streams' progressions
        # share about n**2 / 2**32 values (0.6 for the largest draw of a 256-pixel fit), so a
        # word or so in common, where XOR-ing a key into i would share whole runs. One round
        # rather than two: a draw is dozens of small ops whose overhead, not arithmetic, is
        # what a CPU fit pays per step.
        x = torch.arange(n, dtype=torch.int32, device=self.device).mul(a).add_(b)
        return _mix_(x, _constants(self.device)).view(*lead, *shape)

    def bits24(self, *shape: int) -> torch.Tensor:
        """Uniform 24-bit integers (int32 in [0, 2**24)): the words' top bits.

        An integer below n is ``(bits24 * n) >> 24`` (in int64): exact on every device, where a
        float uniform times n could round differently."""
        k = _constants(self.device)
        return (self.bits(*shape) >> k["s8"]).bitwise_and_(k["m24"])

    def ranks(self, *shape: int) -> torch.Tensor:
        """A random permutation of ``range(shape[-1])`` along the last dimension."""
        n = shape[-1]
        # The index breaks ties, so the order is the same on every device and sort.
        scores = self.bits24(*shape).long().mul_(n).add_(torch.arange(n, device=self.device))
        return scores.argsort(dim=-1)

    def normal(self, *shape: int) -> torch.Tensor:
        """float32 standard normals by Box-Muller, two from each 32-bit word.

        Each word's halves are the pair of 16-bit uniforms: half the hashing of 24-bit pairs,
        and noise has no use for the finer grain (the largest draw is 4.7, the tail beyond
        it has probability 2e-6).
        """
        n = math.prod(shape)
        half = (n + 1) // 2
        x, k = self.bits(half), _constants(self.device)
        u = (x >> k["s16"]).bitwise_and_(k["m16"]).float()  # the radius' uniform ...
        radius = u.add_(1.0).mul_(_UNIT16).log_().mul_(-2.0).sqrt_()  # ... in (0, 1]: a finite log
        angle = x.bitwise_and_(k["m16"]).float().mul_(_TWO_PI * _UNIT16)
        z = torch.cat([radius * angle.cos(), radius.mul_(angle.sin_())], dim=-1)
        lead = self.keys.shape[:-1]
        return z[..., :n].reshape(*lead, *shape)
