"""FastRoIAlign against mmcv's RoIAlign, and the float32 fallbacks that let
mmcv's ops and whole models run under bf16 autocast on CPU."""
import pytest
import torch
from mmcv.ops import RoIAlign, batched_nms, nms
from mmcv.ops.nms import NMSop
from mmcv.ops.roi_align import RoIAlignFunction

import mmfasternet  # noqa: F401  installs the fallbacks, FastRoIAlign
from mmfasternet.ops import (FastRoIAlign, install_half_precision_fallbacks,
                             predictions_to_float32,
                             register_float32_predictions)


def rois_of_every_size(num_images=2, height=12, width=20, scale=0.25):
    """RoIs in image coordinates (feature map ``height x width`` at
    ``scale``): tiny, zero-size, huge, partly and wholly outside the map,
    plus random ones of sizes from sub-pixel to larger than the map."""
    gen = torch.Generator().manual_seed(0)
    img_h, img_w = height / scale, width / scale
    fixed = torch.tensor([
        [0, 10.0, 10.0, 10.5, 10.3],  # tiny
        [1, 20.0, 16.0, 20.0, 16.0],  # zero-size
        [0, 30.0, 8.0, 30.0, 40.0],  # zero width
        [1, -200.0, -150.0, 3 * img_w, 2 * img_h],  # huge
        [0, -30.0, -20.0, 25.0, 30.0],  # partly outside, top left
        [1, img_w - 20, img_h - 10, img_w + 40, img_h + 50],  # bottom right
        [0, img_w + 10, 5.0, img_w + 60, 30.0],  # wholly outside
        [1, 0.0, 0.0, img_w, img_h],  # the whole map
    ])
    num = 56
    side = torch.exp(torch.empty(num, 2).uniform_(-1, 6.5, generator=gen))
    corner = torch.rand(num, 2, generator=gen) * torch.tensor(
        [img_w + 40, img_h + 40]) - 20
    batch = torch.randint(0, num_images, (num, 1), generator=gen).float()
    rand = torch.cat([batch, corner, corner + side], 1)
    return torch.cat([fixed, rand])


def features(num_images=2, channels=5, height=12, width=20, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(num_images, channels, height, width, generator=gen)


def run_both(layer_args, feats, rois):
    """Outputs and input gradients of mmcv's RoIAlign and FastRoIAlign for
    the same random output gradient."""
    results = []
    grad = None
    for layer in (RoIAlign(**layer_args), FastRoIAlign(**layer_args)):
        x = feats.clone().requires_grad_()
        out = layer(x, rois)
        if grad is None:
            grad = torch.randn(out.shape,
                               generator=torch.Generator().manual_seed(2))
        out.backward(grad)
        results.append((out.detach(), x.grad))
    return results


@pytest.mark.parametrize('aligned', [True, False])
@pytest.mark.parametrize('sampling_ratio', [0, 1, 2, 3])
def test_fast_roi_align_matches_mmcv_on_rois_of_every_size(
        aligned, sampling_ratio):
    layer_args = dict(output_size=(7, 5), spatial_scale=0.25,
                      sampling_ratio=sampling_ratio, aligned=aligned)
    (ref, ref_grad), (out, grad) = run_both(layer_args, features(),
                                            rois_of_every_size())
    assert out.shape == ref.shape == (64, 5, 7, 5)
    assert ref.abs().sum() > 0
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-5)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-5, atol=1e-5)


def test_zero_size_aligned_roi_pools_to_zero_as_mmcv():
    rois = torch.tensor([[0, 8.0, 8.0, 8.0, 8.0]])
    out = FastRoIAlign(7, spatial_scale=0.25, aligned=True)(features(), rois)
    assert torch.equal(out, torch.zeros(1, 5, 7, 7))


def test_empty_rois_give_empty_output():
    out = FastRoIAlign(7, spatial_scale=0.25)(features(), torch.zeros(0, 5))
    assert out.shape == (0, 5, 7, 7)


@pytest.mark.parametrize('bad', [float('nan'), float('inf')])
def test_non_finite_rois_are_refused_by_name(bad):
    """Overflowed boxes (bf16 random weights) would otherwise index outside
    the feature table; mmcv's kernel reads out of bounds on them."""
    rois = torch.tensor([[0, 8.0, 8.0, 30.0, 30.0], [0, 4.0, bad, 9.0, 9.0]])
    with pytest.raises(ValueError, match=r'1 RoI\(s\) with non-finite '
                       r'coordinates \(first at index 1'):
        FastRoIAlign(7, spatial_scale=0.25)(features(), rois)


def test_chunked_path_gives_the_same_values(monkeypatch):
    from mmfasternet.ops import roi_align
    feats, rois = features(), rois_of_every_size()
    layer = FastRoIAlign(7, spatial_scale=0.25, sampling_ratio=0)
    whole = layer(feats, rois)
    calls = []
    embedding_bag = roi_align.F.embedding_bag

    def counting(*args, **kwargs):
        calls.append(1)
        return embedding_bag(*args, **kwargs)

    monkeypatch.setattr(roi_align, 'MAX_ENTRIES_PER_CHUNK', 2000)
    monkeypatch.setattr(roi_align.F, 'embedding_bag', counting)
    assert torch.equal(layer(feats, rois), whole)
    assert len(calls) > 10


def test_channels_last_input_gives_the_same_values():
    feats, rois = features(), rois_of_every_size()
    layer = FastRoIAlign(7, spatial_scale=0.25)
    out = layer(feats.contiguous(memory_format=torch.channels_last), rois)
    torch.testing.assert_close(out, layer(feats, rois), rtol=0, atol=1e-6)


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_half_input_is_computed_in_float32_and_cast_back(dtype):
    feats, rois = features(), rois_of_every_size()
    layer = FastRoIAlign(7, spatial_scale=0.25)
    x = feats.to(dtype).requires_grad_()
    out = layer(x, rois)
    assert out.dtype == dtype
    reference = layer(x.detach().float(), rois)
    torch.testing.assert_close(out.float(), reference, rtol=1e-2, atol=1e-2)
    out.float().sum().backward()
    assert x.grad.dtype == dtype and x.grad.abs().sum() > 0


def test_unsupported_options_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="pool_mode='avg'"):
        FastRoIAlign(7, pool_mode='max')
    with pytest.raises(ValueError, match='use_torchvision'):
        FastRoIAlign(7, use_torchvision=True)
    with pytest.raises(ValueError, match=r'\(R, 5\)'):
        FastRoIAlign(7)(features(), torch.zeros(3, 4))
    with pytest.raises(ValueError, match='x2 < x1'):
        FastRoIAlign(7)(features(), torch.tensor([[0, 5.0, 5.0, 2.0, 9.0]]))


def test_single_roi_extractor_config_selects_fast_roi_align():
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.registry import DefaultScope
    register_all_modules(init_default_scope=False)
    outputs = {}
    gen = torch.Generator().manual_seed(3)
    feats = tuple(
        torch.randn(1, 8, 64 // s, 96 // s, generator=gen)
        for s in (4, 8, 16, 32))
    side = torch.exp(torch.empty(40, 2).uniform_(1, 5, generator=gen))
    corner = torch.rand(40, 2, generator=gen) * torch.tensor([96., 64.])
    rois = torch.cat([torch.zeros(40, 1), corner, corner + side], 1)
    for layer in ('RoIAlign', 'FastRoIAlign'):
        # Another test may have left mmseg as the default scope.
        with DefaultScope.overwrite_default_scope('mmdet'):
            extractor = MODELS.build(
                dict(type='SingleRoIExtractor',
                     roi_layer=dict(type=layer, output_size=7,
                                    sampling_ratio=0),
                     out_channels=8,
                     featmap_strides=[4, 8, 16, 32]))
        assert all(
            type(m).__name__ == layer for m in extractor.roi_layers)
        outputs[layer] = extractor(feats, rois)
    assert outputs['RoIAlign'].abs().sum() > 0
    torch.testing.assert_close(outputs['FastRoIAlign'],
                               outputs['RoIAlign'], rtol=0, atol=1e-5)


def boxes_and_scores(num=60):
    gen = torch.Generator().manual_seed(4)
    corner = torch.rand(num, 2, generator=gen) * 50
    boxes = torch.cat([corner, corner + 5 + torch.rand(num, 2,
                                                       generator=gen) * 20], 1)
    return boxes, torch.rand(num, generator=gen)


def test_mmcv_nms_takes_bf16_boxes_under_autocast():
    boxes, scores = boxes_and_scores()
    boxes16, scores16 = boxes.bfloat16(), scores.bfloat16()
    expected_dets, expected_keep = nms(boxes16.float(), scores16.float(), 0.5)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        dets, keep = nms(boxes16, scores16, 0.5)
    assert torch.equal(keep, expected_keep) and len(keep) < len(boxes)
    assert dets.dtype == torch.bfloat16
    assert torch.equal(dets.float(), expected_dets)


def test_batched_nms_takes_bf16_boxes():
    boxes, scores = boxes_and_scores()
    idxs = torch.arange(len(boxes)) % 3
    expected, expected_keep = batched_nms(boxes.bfloat16().float(),
                                          scores.bfloat16().float(), idxs,
                                          dict(type='nms', iou_threshold=0.5))
    dets, keep = batched_nms(boxes.bfloat16(), scores.bfloat16(), idxs,
                             dict(type='nms', iou_threshold=0.5))
    assert torch.equal(keep, expected_keep)
    assert dets.dtype == torch.bfloat16


def test_mmcv_roi_align_takes_bf16_features_forward_and_backward():
    feats, rois = features(), rois_of_every_size()
    layer = RoIAlign(7, spatial_scale=0.25, sampling_ratio=2)
    x = feats.bfloat16().requires_grad_()
    out = layer(x, rois)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), layer(x.detach().float(), rois),
                               rtol=1e-2, atol=1e-2)
    out.float().sum().backward()
    assert x.grad.dtype == torch.bfloat16 and x.grad.abs().sum() > 0


def test_install_is_idempotent():
    install_half_precision_fallbacks()
    install_half_precision_fallbacks()
    for cls, name in ((NMSop, 'forward'), (RoIAlignFunction, 'forward'),
                      (RoIAlignFunction, 'backward')):
        wrapper = cls.__dict__[name].__func__
        assert wrapper.is_float32_fallback
        assert not getattr(wrapper.__wrapped__, 'is_float32_fallback', False)


def test_calls_without_half_tensors_are_not_cast():
    feats, rois = features().double(), rois_of_every_size().double()
    out = RoIAlign(7, spatial_scale=0.25)(feats, rois)
    assert out.dtype == torch.float64
    torch.testing.assert_close(
        out, FastRoIAlign(7, spatial_scale=0.25)(feats, rois).double(),
        rtol=0, atol=1e-5)


def predict_under_bf16(config, shape=(96, 128)):
    """A config's model (random weights, every score kept so that nms and
    the mask head run) predicting one dummy image under CPU bf16 autocast,
    with float32 predictions."""
    from mmfasternet.analysis.models import dummy_batch, load_any_config
    from mmfasternet.models import build_model
    cfg = load_any_config(config)
    test_cfg = cfg.model.get('test_cfg') or {}
    if 'rcnn' in test_cfg:
        test_cfg.rcnn.score_thr = 0.0
    elif 'score_thr' in test_cfg:
        test_cfg.score_thr = 0.0
    torch.manual_seed(0)
    model = build_model(cfg)
    register_float32_predictions(model)
    inputs, samples = dummy_batch(model, cfg.get('default_scope', 'mmdet'),
                                  1, shape)
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        return model(inputs, samples, mode='predict')[0]


@pytest.mark.parametrize('config', [
    'configs/demo/maskrcnn_fasternet_t0_synthetic.py',
    'configs/retinanet_fasternet_t0_coco.py'
])
def test_detectors_predict_under_cpu_bf16_autocast(config):
    pred = predict_under_bf16(config).pred_instances
    assert len(pred) > 0
    assert pred.bboxes.dtype == torch.float32 and pred.bboxes.shape[1] == 4
    assert pred.scores.dtype == torch.float32
    assert pred.labels.dtype == torch.int64
    if 'maskrcnn' in config:
        assert pred.masks.dtype == torch.bool
        assert pred.masks.shape == (len(pred), 96, 128)


def test_semantic_fpn_predicts_under_cpu_bf16_autocast():
    pred = predict_under_bf16('configs/fpn_fasternet_t0_ade20k.py',
                              shape=(64, 96))
    assert pred.pred_sem_seg.data.shape == (1, 64, 96)
    assert not pred.pred_sem_seg.data.is_floating_point()


def test_predictions_to_float32_casts_half_prediction_fields_only():
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    sample = DetDataSample(metainfo=dict(img_shape=(8, 8)))
    sample.pred_instances = InstanceData(
        bboxes=torch.ones(3, 4, dtype=torch.bfloat16),
        scores=torch.ones(3, dtype=torch.float16),
        labels=torch.zeros(3, dtype=torch.long),
        masks=torch.zeros(3, 8, 8, dtype=torch.bool))
    sample.gt_instances = InstanceData(
        bboxes=torch.ones(1, 4, dtype=torch.bfloat16))
    predictions_to_float32([sample])
    pred = sample.pred_instances
    assert pred.bboxes.dtype == pred.scores.dtype == torch.float32
    assert pred.labels.dtype == torch.long and pred.masks.dtype == torch.bool
    assert sample.gt_instances.bboxes.dtype == torch.bfloat16
