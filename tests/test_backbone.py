"""FasterNet backbone: variants, freezing, checkpointing, deploy form."""
import pytest
import torch
from mmengine.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm

from mmfasternet import FasterNet
from mmfasternet.models.backbones.fasternet import (FasterNetBlock,
                                                    PartialConv3x3,
                                                    fuse_conv_bn)

# The official models' backbone parameters, output norms included.
PARAMS = {
    't0': 2_216_100,
    't1': 5_660_928,
    't2': 12_721_728,
    's': 28_593_152,
    'm': 50_770_224,
    'l': 90_223_872,
}
EMBED_DIMS = {'t0': 40, 't1': 64, 't2': 96, 's': 128, 'm': 144, 'l': 192}
ALL_ARCHS = list(PARAMS)
# The variants that differ in structure, not only in width: t0 (GELU, no
# drop path), t2 (ReLU, depths 1-2-8-2), s (1-2-13-2), m (3-4-18-3); t1 and l
# are t0 and m wider.
STRUCTURES = ['t0', 't2', 's', 'm']


def randomize_norms(model: torch.nn.Module, seed: int = 0) -> None:
    """Give every BatchNorm non-trivial statistics and affine parameters."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            n = module.num_features
            module.running_mean.copy_(torch.randn(n, generator=generator))
            module.running_var.copy_(torch.rand(n, generator=generator) + .5)
            module.weight.data.copy_(torch.randn(n, generator=generator))
            module.bias.data.copy_(torch.randn(n, generator=generator))


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize('arch', ALL_ARCHS)
def test_parameter_count_matches_official_model(arch):
    model = FasterNet(arch=arch)
    assert sum(p.numel() for p in model.parameters()) == PARAMS[arch]


@pytest.mark.parametrize('arch', ALL_ARCHS)
@pytest.mark.parametrize('scope', ['mmdet', 'mmseg'])
def test_outputs_have_stage_channels_and_strides(arch, scope):
    registry = {'mmdet': 'mmdet.registry', 'mmseg': 'mmseg.registry'}[scope]
    scoped_models = __import__(registry, fromlist=['MODELS']).MODELS
    model = scoped_models.build(dict(type='FasterNet', arch=arch))
    assert isinstance(model, FasterNet)
    model.eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 64, 96))
    e = EMBED_DIMS[arch]
    assert [tuple(o.shape) for o in outs] == [
        (1, e, 16, 24), (1, 2 * e, 8, 12), (1, 4 * e, 4, 6), (1, 8 * e, 2, 3)
    ]


def test_registered_in_root_registry():
    assert MODELS.get('FasterNet') is FasterNet


def test_out_indices_select_stages_and_accept_negative_indices():
    model = FasterNet(arch='t0', out_indices=(1, -1)).eval()
    outs = model(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [80, 320]


def test_unknown_arch_lists_valid_names():
    with pytest.raises(KeyError, match=r"'l', 'm', 's', 't0', 't1', 't2'"):
        FasterNet(arch='xl')


def test_custom_arch_dict_builds_and_missing_keys_raise():
    model = FasterNet(arch=dict(embed_dim=16, depths=(1, 1, 1, 1),
                                act='ReLU')).eval()
    assert [o.shape[1] for o in model(torch.randn(1, 3, 32, 32))] == [
        16, 32, 64, 128]
    with pytest.raises(ValueError, match='embed_dim'):
        FasterNet(arch=dict(depths=(1, 1, 1, 1)))


@pytest.mark.parametrize('kwargs,option', [
    (dict(out_indices=(4, )), 'out_indices'),
    (dict(frozen_stages=5), 'frozen_stages'),
    (dict(frozen_stages=-2), 'frozen_stages'),
])
def test_out_of_range_options_name_the_option(kwargs, option):
    with pytest.raises(ValueError, match=option):
        FasterNet(arch='t0', **kwargs)


def test_variant_activations_and_drop_path_defaults():
    t0, s = FasterNet(arch='t0'), FasterNet(arch='s')
    assert isinstance(t0.stages[0].blocks[0].mlp[2], torch.nn.GELU)
    assert isinstance(s.stages[0].blocks[0].mlp[2], torch.nn.ReLU)
    last = s.stages[6].blocks[-1].drop_path
    assert last.drop_prob == pytest.approx(0.1)
    assert FasterNet(arch='s', drop_path_rate=0.15).stages[6].blocks[
        -1].drop_path.drop_prob == pytest.approx(0.15)


def test_frozen_stages_are_frozen_and_stay_in_eval_after_train():
    model = FasterNet(arch='t0', frozen_stages=2)
    model.train()
    frozen = [model.patch_embed, model.stages[0], model.stages[1],
              model.stages[2], model.norm0, model.norm2]
    for module in frozen:
        assert not module.training
        assert all(not p.requires_grad for p in module.parameters())
    for module in [model.stages[3], model.stages[4], model.norm4]:
        assert module.training
        assert all(p.requires_grad for p in module.parameters())


def test_default_freezes_nothing():
    model = FasterNet(arch='t0').train()
    assert all(p.requires_grad for p in model.parameters())


def test_norm_eval_keeps_every_batchnorm_in_eval_mode():
    model = FasterNet(arch='t0', norm_eval=True).train()
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert norms and all(not m.training for m in norms)
    assert model.stages[0].blocks[0].mlp[0].training


def count_block_calls(model: FasterNet) -> list:
    """A list that grows by one each time any block's forward starts (a
    pre-hook: checkpointing stops a recomputation before its post-hooks)."""
    calls = []
    for module in model.modules():
        if isinstance(module, FasterNetBlock):
            module.register_forward_pre_hook(lambda *_: calls.append(1))
    return calls


@pytest.mark.parametrize('with_cp', [False, True])
def test_with_cp_recomputes_each_block_during_backward(with_cp):
    # Checkpointing keeps no block activations: backward runs each block's
    # forward a second time. Without it, backward runs none.
    model = FasterNet(arch='t0', with_cp=with_cp).train()
    blocks = sum(1 for m in model.modules() if isinstance(m, FasterNetBlock))
    calls = count_block_calls(model)
    outs = model(torch.randn(2, 3, 32, 32))
    assert len(calls) == blocks == 13
    sum(o.sum() for o in outs).backward()
    assert len(calls) == (2 * blocks if with_cp else blocks)


def test_with_cp_gives_same_outputs_and_gradients():
    torch.manual_seed(0)
    plain = FasterNet(arch='t0', drop_path_rate=0.)
    checkpointed = FasterNet(arch='t0', drop_path_rate=0., with_cp=True)
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 64, 64)
    outs, grads = [], []
    for model in (plain, checkpointed):
        model.train()
        out = model(x)
        sum(o.square().mean() for o in out).backward()
        outs.append(out)
        grads.append(model.stages[2].blocks[0].mlp[0].weight.grad.clone())
    for a, b in zip(*outs):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(grads[0], grads[1])


def test_folded_conv_equals_conv_then_norm_with_the_norm_eps():
    # Expected values written out from BatchNorm's definition; a large eps
    # and small variances make a fold with any other eps visibly wrong.
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 4, 3, bias=False)
    norm = torch.nn.BatchNorm2d(4, eps=0.1).eval()
    norm.running_mean.copy_(torch.randn(4))
    norm.running_var.copy_(torch.rand(4) * 0.1 + 0.01)
    norm.weight.data.copy_(torch.randn(4))
    norm.bias.data.copy_(torch.randn(4))
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        y = conv(x)
        shape = (1, 4, 1, 1)
        expected = (y - norm.running_mean.view(shape)) / torch.sqrt(
            norm.running_var.view(shape) + 0.1) * norm.weight.view(
                shape) + norm.bias.view(shape)
        fused = fuse_conv_bn(conv, norm)(x)
    torch.testing.assert_close(fused, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('training', [True, False])
def test_partial_conv_inference_path_equals_split_concat_and_keeps_input(
        training):
    torch.manual_seed(0)
    pconv = PartialConv3x3(32, n_div=4).train(training)
    x = torch.randn(2, 32, 9, 9)
    original = x.clone()
    split_concat = pconv(x)
    pconv.switch_to_deploy()
    inplace_path = pconv(x)
    torch.testing.assert_close(inplace_path, split_concat, rtol=0, atol=0)
    torch.testing.assert_close(x, original, rtol=0, atol=0)
    # Only the first quarter of channels changes.
    torch.testing.assert_close(split_concat[:, 8:], x[:, 8:], rtol=0, atol=0)
    assert not torch.equal(split_concat[:, :8], x[:, :8])


@pytest.mark.parametrize('arch', STRUCTURES)
def test_deploy_form_matches_training_form_in_eval(arch):
    torch.manual_seed(0)
    # A norm eps far from the default: folding must use the norm's own.
    model = FasterNet(arch=arch, norm_cfg=dict(type='BN', eps=0.05))
    randomize_norms(model)
    model.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        reference = model(x)
        model.switch_to_deploy()
        model.switch_to_deploy()  # a second call changes nothing
        deployed = model(x)
    for a, b in zip(deployed, reference):
        assert relative_error(a, b) <= 1e-5
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    # Only the four output norms remain: nothing before them to fold into.
    assert len(bns) == 4
