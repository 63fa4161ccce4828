import numpy as np
import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

import ssdnet
from ssdnet.features import build_extractor
from ssdnet.fit import fit_many
from ssdnet.synthetic import make_example


def _image() -> torch.Tensor:
    return torch.from_numpy(make_example(2, 32, 32)[0].astype(np.float32) / 255)[None]


def _fit(cfg, snapshots=None):
    handle = None
    if snapshots is not None:  # every step's weights, read from the optimizer after its step
        handle = register_optimizer_step_post_hook(
            lambda opt, args, kwargs: snapshots.append([p.detach().clone() for p in opt.param_groups[0]["params"]]))
    try:
        model = fit_many(_image()[None], cfg, build_extractor(cfg.features, 1), [torch.Generator().manual_seed(0)])[0]
    finally:
        if handle is not None:
            handle.remove()
    return [p.detach() for p in model.parameters()]


@pytest.mark.parametrize("share, steps_averaged", [(0.5, 4), (0.3, 2)])
def test_averaged_weights_are_the_mean_of_the_last_steps(share, steps_averaged):
    cfg = ssdnet.resolve(preset="fast", steps=8, threads=1, average=share)
    snapshots = []
    got = _fit(cfg, snapshots)
    assert len(snapshots) == 8
    want = [torch.stack([s[i][0] for s in snapshots[-steps_averaged:]]).mean(0) for i in range(len(got))]
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-6)
    plain = _fit(cfg.replace(average=0.0))
    assert any(not torch.equal(g, p) for g, p in zip(got, plain))


def test_no_averaging_keeps_the_last_steps_weights():
    cfg = ssdnet.resolve(preset="fast", steps=6, threads=1)
    snapshots = []
    got = _fit(cfg, snapshots)
    for g, last in zip(got, snapshots[-1]):
        assert torch.equal(g, last[0])


def test_average_out_of_range_is_refused():
    with pytest.raises(ValueError, match="average must be in"):
        ssdnet.resolve(preset="fast", average=1.5)


def test_one_network_in_channels_last_computes_what_vmap_computes():
    # A single CPU fit skips vmap for the channels-last layout: the same weights must give the
    # same output and the same gradient on the stacked weights, only summed in another order.
    from torch.func import functional_call, stack_module_state, vmap

    from ssdnet.fit import _one_channels_last
    from ssdnet.model import UNet

    torch.manual_seed(0)
    model = UNet(3, 8)
    torch.nn.init.normal_(model.head.weight, std=0.1)  # not the identity it starts as: every layer counts
    template = UNet(3, 8).to("meta")
    x = torch.rand(1, 5, 3, 24, 40)  # one network's batch of 5 patches; 24 x 40 is padded inside
    outs, grads = [], []
    for forward in (vmap(lambda p, b, t: functional_call(template, (p, b), (t,))), _one_channels_last(template)):
        params, buffers = stack_module_state([model])
        out = forward(params, buffers, x)
        out.pow(2).mean().backward()
        outs.append(out.detach())
        grads.append({name: t.grad for name, t in params.items()})
    assert outs[1].is_contiguous() and outs[1].shape == (1, 5, 3, 24, 40)
    assert torch.allclose(outs[0], outs[1], atol=1e-5)
    assert grads[0].keys() == grads[1].keys() and all(g is not None and g.abs().sum() > 0 for g in grads[1].values())
    for name in grads[0]:
        assert torch.allclose(grads[0][name], grads[1][name], atol=1e-5, rtol=1e-4), name
