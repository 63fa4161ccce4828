import math

import pytest
import torch

from ssdnet.streams import MASK, Streams, _mix


def _words(stream: Streams) -> list[int]:
    return [w & MASK for w in stream.keys.tolist()]


def test_bits_are_the_reference_hash_of_the_counter():
    # The int32 tensor arithmetic (wrapping products, masked arithmetic shifts) must give the
    # unsigned 32-bit hash: element i of a stream keyed (a, b) is lowbias32(a * i + b).
    s = Streams.from_seeds([0, 12345, 2 ** 40 + 7], "cpu")
    got = s.bits(1001)  # not a multiple of any vector width: the scalar tail is checked too
    for key, row in zip(s.keys.tolist(), got.tolist()):
        a, b = (k & MASK for k in key)
        assert a % 2 == 1
        assert [w & MASK for w in row] == [_mix(a * i + b) for i in range(1001)]


def test_the_same_seed_draws_the_same_numbers():
    a, b = Streams.from_seeds([3], "cpu"), Streams.from_seeds([3], "cpu")
    assert torch.equal(a.bits(500), b.bits(500))
    assert torch.equal(a.split(7, 4)[5][2].normal(3, 10), b.split(7, 4)[5][2].normal(3, 10))


def test_different_seeds_and_children_draw_different_numbers():
    s = Streams.from_seeds([0, 1, 2 ** 32, -1], "cpu")
    words = s.bits(1000)
    for i in range(4):
        for j in range(i):
            assert (words[i] == words[j]).float().mean() < 0.01
    children = s.split(50, 4).bits(100).flatten(0, -2)  # 4 * 200 child streams
    assert len({tuple(row.tolist()) for row in children}) == children.shape[0]


def test_a_streams_draws_do_not_depend_on_its_companions():
    pack = Streams.from_seeds([11, 22, 33], "cpu").split(5, 4)
    alone = Streams.from_seeds([22], "cpu").split(5, 4)
    assert torch.equal(pack.keys[1], alone.keys[0])
    assert torch.equal(pack[3][1].normal(2, 64)[1], alone[3][1].normal(2, 64)[0])
    assert torch.equal(pack[0][2].ranks(4, 16)[1], alone[0][2].ranks(4, 16)[0])


def test_24_bit_words_are_uniform():
    u = Streams.from_seeds([1, 2], "cpu").bits24(200_000).double() / 2 ** 24
    assert u.min() >= 0 and u.max() < 1
    assert torch.allclose(u.mean(1), torch.full((2,), 0.5, dtype=torch.float64), atol=0.005)
    assert torch.allclose(u.var(1), torch.full((2,), 1 / 12, dtype=torch.float64), atol=0.002)
    counts = torch.histc(u[0], bins=10, min=0, max=1)
    assert ((counts - 20_000).abs() < 600).all(), counts


def test_normals_are_standard_normal():
    z = Streams.from_seeds([1, 2], "cpu").normal(101, 999)  # an odd count: one half-pair cut
    assert z.shape == (2, 101, 999) and torch.isfinite(z).all()
    for row in z.flatten(1):
        assert abs(row.mean().item()) < 0.01 and abs(row.std().item() - 1) < 0.01
        within = (row.abs() < 1).float().mean().item()
        assert abs(within - math.erf(1 / math.sqrt(2))) < 0.005
        assert abs((row > 2).float().mean().item() - 0.02275) < 0.002


def test_ranks_are_permutations():
    r = Streams.from_seeds([5], "cpu").ranks(3000, 16)[0]
    assert torch.equal(r.sort(dim=1).values, torch.arange(16).expand(3000, 16))
    # every tile lands in every place about equally often
    counts = torch.zeros(16, 16).index_put_((torch.arange(16).expand(3000, 16), r), torch.ones(3000, 16),
                                            accumulate=True)
    assert ((counts - 3000 / 16).abs() < 60).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_gpu_draws_what_a_cpu_draws():
    cpu, gpu = Streams.from_seeds([0, 9], "cpu").split(3, 4), Streams.from_seeds([0, 9], "cuda").split(3, 4)
    assert torch.equal(cpu.keys, gpu.keys.cpu())
    assert torch.equal(cpu[2][1].ranks(5, 64), gpu[2][1].ranks(5, 64).cpu())
    assert torch.equal(cpu[1][0].bits24(100, 50), gpu[1][0].bits24(100, 50).cpu())
    torch.testing.assert_close(cpu[0][3].normal(3, 32, 32), gpu[0][3].normal(3, 32, 32).cpu())
