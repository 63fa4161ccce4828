import pytest
import torch

from ssdnet.model import MIN_SIDE, UNet


@pytest.mark.parametrize("shape", [(1, 16, 16), (1, 17, 23), (3, 31, 45), (1, 64, 257), (3, 5, 9)])
def test_unet_keeps_any_input_size(shape):
    net = UNet(channels=shape[0], width=4)
    x = torch.rand(2, *shape)
    assert net(x).shape == x.shape


def test_unet_starts_as_identity_through_the_global_residual():
    net = UNet(channels=3, width=4)
    x = torch.rand(1, 3, 20, 28)
    assert torch.equal(net(x), x)


def test_unet_has_three_levels_with_skips():
    net = UNet(channels=1, width=8)
    # Decoder blocks take the upsampled features concatenated with the encoder's (the skips).
    assert net.dec2[0].in_channels == 2 * 16
    assert net.dec1[0].in_channels == 2 * 8
    assert net.mid[0].out_channels == 32


def test_unet_learns_a_residual():
    torch.manual_seed(0)
    net = UNet(channels=1, width=4)
    x = torch.rand(4, 1, 16, 16)
    target = 1 - x
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    first = None
    for _ in range(60):
        loss = torch.nn.functional.mse_loss(net(x), target)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.2 * first


@pytest.mark.parametrize("shape", [(MIN_SIDE, MIN_SIDE), (MIN_SIDE, 40), (40, MIN_SIDE)])
def test_min_side_is_the_smallest_side_the_network_takes(shape):
    net = UNet(channels=1, width=4)
    assert net(torch.rand(1, 1, *shape)).shape == (1, 1, *shape)
    for smaller in ((shape[0] - 1, shape[1]), (shape[0], shape[1] - 1)):
        if min(smaller) < MIN_SIDE:
            with pytest.raises(RuntimeError, match="[Pp]adding"):
                net(torch.rand(1, 1, *smaller))
