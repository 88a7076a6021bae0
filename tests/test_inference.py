"""Inference forms: the deploy form built directly (``deploy=True``) and by
folding, channels-last as a separate choice, the checkpoint converter, and
``torch.compile`` of the dense parts."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.runner.checkpoint import _load_checkpoint, save_checkpoint

from mmfasternet import FasterNet
from mmfasternet.analysis.models import dummy_batch
from mmfasternet.apis.reparameterize import reparameterize_checkpoint
from mmfasternet.apis.runner import load_config
from mmfasternet.errors import InputError
from mmfasternet.inference import (fasternet_backbones, inference_autocast,
                                   optimize_for_inference)
from mmfasternet.models import build_model

REPO = Path(__file__).parents[1]
DEMO_CONFIG = 'configs/demo/maskrcnn_fasternet_t0_synthetic.py'
STRUCTURES = ['t0', 't2', 's', 'm']  # t1, l: t0, m wider (test_backbone)


def randomize_norm_statistics(model: nn.Module, seed: int = 0) -> None:
    """Non-trivial BatchNorm statistics and affine parameters, so that a
    wrong fold (wrong epsilon, missing bias) changes the outputs."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            n = module.num_features
            module.running_mean.copy_(torch.randn(n, generator=generator))
            module.running_var.copy_(
                torch.rand(n, generator=generator) * 2 + 0.01)
            module.weight.data.copy_(torch.randn(n, generator=generator))
            module.bias.data.copy_(torch.randn(n, generator=generator))


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


def structure(model: nn.Module) -> dict:
    return {name: type(module).__name__
            for name, module in model.named_modules()}


@pytest.mark.parametrize('arch', STRUCTURES)
def test_folded_state_dict_loads_strictly_into_deploy_form(arch):
    torch.manual_seed(0)
    training = FasterNet(arch).eval()
    randomize_norm_statistics(training)
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        reference = training(x)
        training.switch_to_deploy()
    deploy = FasterNet(arch, deploy=True).eval()
    deploy.load_state_dict(training.state_dict(), strict=True)
    assert structure(deploy) == structure(training)
    assert not any(isinstance(m, nn.BatchNorm2d) for name, m in
                   deploy.named_modules() if not name.startswith('norm'))
    with torch.no_grad():
        outputs = deploy(x)
    for out, ref in zip(outputs, reference):
        assert relative_error(out, ref) < 1e-5


def test_switch_to_deploy_keeps_the_memory_format_choice():
    torch.manual_seed(0)
    model = FasterNet('t0').eval()
    model.switch_to_deploy()
    assert not model.patch_embed.proj.weight.is_contiguous(
        memory_format=torch.channels_last)
    fast = FasterNet('t0', deploy=True, channels_last=True).eval()
    fast.load_state_dict(model.state_dict())
    assert fast.patch_embed.proj.weight.is_contiguous(
        memory_format=torch.channels_last)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        outputs, reference = fast(x), model(x)
    assert outputs[0].is_contiguous(memory_format=torch.channels_last)
    assert not reference[0].is_contiguous(memory_format=torch.channels_last)
    for out, ref in zip(outputs, reference):
        assert relative_error(out, ref) < 1e-5


def test_loading_a_checkpoint_of_the_other_form_names_the_file(tmp_path):
    training = FasterNet('t0')
    unfused = tmp_path / 'unfused.pth'
    torch.save({'state_dict': training.state_dict()}, unfused)
    deploy = FasterNet('t0', deploy=True)
    with pytest.raises(ValueError, match='unfused.pth holds a FasterNet in '
                       'training form.*reparameterize_model'):
        deploy.load_official_checkpoint(str(unfused))
    fused = tmp_path / 'fused.pth'
    torch.save({'state_dict': training.switch_to_deploy().state_dict()},
               fused)
    with pytest.raises(ValueError, match='fused.pth holds a fused'):
        FasterNet('t0').load_official_checkpoint(str(fused))
    deploy.load_official_checkpoint(str(fused))  # the right form loads


def test_optimize_for_inference_decides_deploy_from_the_model():
    peer = Config.fromfile(DEMO_CONFIG)
    peer.model.backbone = dict(type='mmdet.ResNet', depth=18,
                               out_indices=(0, 1, 2, 3), init_cfg=None)
    peer.model.neck.in_channels = [64, 128, 256, 512]
    model = build_model(peer)
    with pytest.raises(ValueError, match='no FasterNet backbone'):
        optimize_for_inference(model, deploy=True)


def test_fuse_bn_folds_every_batchnorm_of_fasternet_and_peer_models_alike():
    """RTMDet FasterNet-T0 (BatchNorm in backbone, neck and head) with deploy
    + fuse_bn, and a ResNet-18 Mask R-CNN with fuse_bn alone: no BatchNorm
    after a conv is left and the outputs stay those of the unfolded model."""
    peer = Config.fromfile(DEMO_CONFIG)
    peer.model.backbone = dict(type='mmdet.ResNet', depth=18,
                               out_indices=(0, 1, 2, 3), init_cfg=None)
    peer.model.neck.in_channels = [64, 128, 256, 512]
    rtmdet = load_config('configs/rtmdet_fasternet_t0_coco.py')
    for cfg, deploy in ((rtmdet, True), (peer, False)):
        torch.manual_seed(0)
        model = build_model(cfg)
        randomize_norm_statistics(model)
        inputs = torch.randn(1, 3, 128, 160)

        def outputs():
            with torch.no_grad():
                features = model.extract_feat(inputs)
                if hasattr(model, 'bbox_head'):  # RTMDet's head has norms
                    features = [*features, *model.bbox_head(features)[0]]
                return features

        reference = outputs()
        assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
        optimize_for_inference(model, deploy=deploy, fuse_bn=True)
        # FasterNet's output norms follow a residual sum, not a conv: the
        # only BatchNorm nothing can be folded into.
        left = [name for name, m in model.named_modules()
                if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        assert all(re.fullmatch(r'backbone\.norm\d', n) for n in left), left
        for output, ref in zip(outputs(), reference):
            assert relative_error(output, ref) < 1e-4


def predictions(model, inputs, samples):
    with torch.no_grad():
        return model(inputs, [s.clone() for s in samples], mode='predict')


def test_channels_last_alone_gives_the_same_features_for_any_backbone():
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.model.backbone = dict(type='mmdet.ResNet', depth=18,
                              out_indices=(0, 1, 2, 3), init_cfg=None)
    cfg.model.neck.in_channels = [64, 128, 256, 512]
    torch.manual_seed(0)
    model = build_model(cfg)
    inputs = torch.randn(1, 3, 128, 160)
    with torch.no_grad():
        reference = model.extract_feat(inputs)
    optimize_for_inference(model, channels_last=True)
    assert model.backbone.conv1.weight.is_contiguous(
        memory_format=torch.channels_last)
    with torch.no_grad():
        features = model.extract_feat(inputs)
    for feature, ref in zip(features, reference):
        assert feature.is_contiguous(memory_format=torch.channels_last)
        assert relative_error(feature, ref) < 1e-5


def tool(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope='module')
def trained_like_checkpoint(tmp_path_factory):
    """The demo Mask R-CNN with random weights and non-trivial BatchNorm
    statistics, saved as mmengine saves a training checkpoint."""
    cfg = Config.fromfile(DEMO_CONFIG)
    torch.manual_seed(0)
    model = build_model(cfg)
    randomize_norm_statistics(model.backbone)
    path = tmp_path_factory.mktemp('ckpt') / 'trained.pth'
    save_checkpoint({'meta': {'iter': 7}, 'state_dict': model.state_dict(),
                     'optimizer': {}}, str(path))
    return path, model


@pytest.mark.slow
def test_converter_round_trip_gives_the_same_predictions(
        trained_like_checkpoint, tmp_path):
    path, model = trained_like_checkpoint
    out = tmp_path / 'deploy.pth'
    result = tool('tools/model_converters/reparameterize_model.py',
                  DEMO_CONFIG, str(path), str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    folded = _load_checkpoint(str(out))
    assert set(folded) == {'meta', 'state_dict'}
    assert folded['meta']['iter'] == 7
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.model.backbone.deploy = True
    deploy = build_model(cfg)
    deploy.load_state_dict(folded['state_dict'], strict=True)
    assert len(fasternet_backbones(deploy)) == 1
    inputs, samples = dummy_batch(model, 'mmdet', 1, (128, 160))
    inputs = inputs.abs() * 40  # an image-like range for the preprocessor
    ref = predictions(model.eval(), inputs, samples)[0].pred_instances
    got = predictions(deploy.eval(), inputs, samples)[0].pred_instances
    assert len(got) == len(ref) > 0
    torch.testing.assert_close(got.bboxes, ref.bboxes, rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(got.scores, ref.scores, rtol=1e-4, atol=1e-4)


def test_converter_refuses_a_folded_checkpoint_and_another_variant(
        trained_like_checkpoint, tmp_path):
    path, _ = trained_like_checkpoint
    out = tmp_path / 'deploy.pth'
    reparameterize_checkpoint(load_config(DEMO_CONFIG), DEMO_CONFIG,
                              str(path), str(out))
    with pytest.raises(InputError, match=f'{out} is already folded'):
        reparameterize_checkpoint(load_config(DEMO_CONFIG), DEMO_CONFIG,
                                  str(out), str(tmp_path / 'twice.pth'))
    assert not (tmp_path / 'twice.pth').exists()
    other = tmp_path / 't1.py'
    other.write_text(f"_base_ = '{REPO / DEMO_CONFIG}'\n"
                     "model = dict(backbone=dict(arch='t1'), neck=dict("
                     "in_channels=[64, 128, 256, 512]))\n")
    with pytest.raises(InputError,
                       match=f'(?s){path} does not fit {other}.*mismatched'):
        reparameterize_checkpoint(load_config(str(other)), str(other),
                                  str(path), str(tmp_path / 'wrong.pth'))
    assert not (tmp_path / 'wrong.pth').exists()


def test_inference_autocast_picks_bf16_on_cpu():
    with inference_autocast('cpu'):
        y = torch.nn.functional.linear(torch.randn(2, 4), torch.randn(3, 4))
    assert y.dtype is torch.bfloat16
    with inference_autocast('cpu', enabled=False):
        y = torch.nn.functional.linear(torch.randn(2, 4), torch.randn(3, 4))
    assert y.dtype is torch.float32


@pytest.mark.slow
def test_compile_of_the_backbone_gives_the_same_features():
    torch.manual_seed(0)
    model = FasterNet('t0', deploy=True).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        reference = model(x)
    holder = nn.Module()
    holder.backbone = model
    try:
        optimize_for_inference(holder, compile=True)
        with torch.no_grad():
            outputs = holder.backbone(x)
    except Exception as error:  # inductor needs a working C++ toolchain
        pytest.skip(f'torch.compile cannot compile here: {error}')
    assert holder.backbone._compiled_call_impl is not None
    for out, ref in zip(outputs, reference):
        assert relative_error(out, ref) < 1e-4


def test_mmcv_roi_align_reads_channels_last_features_right():
    """A channels-last backbone and neck hand channels-last features to the
    RoI extractor; mmcv's kernel reads NCHW memory, so importing mmfasternet
    makes the input contiguous first."""
    from mmcv.ops import RoIAlign
    torch.manual_seed(0)
    features = torch.randn(1, 8, 20, 24)
    rois = torch.tensor([[0, 1., 1., 15., 12.], [0, 3., 0., 23., 19.]])
    op = RoIAlign(7, 1.0, 0)
    reference = op(features, rois)
    channels_last = op(
        features.contiguous(memory_format=torch.channels_last), rois)
    torch.testing.assert_close(channels_last, reference)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        half = op(features.to(torch.bfloat16).contiguous(
            memory_format=torch.channels_last), rois)
    torch.testing.assert_close(half.float(), reference, rtol=0.05,
                               atol=0.05)
