"""ONNX export of whole detectors and segmentors, and the exported files
run by ONNX Runtime and OpenVINO behind the model's forward, compared with
mmdet's and mmseg's own PyTorch predictions (tiny models, 128x128)."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData

from mmfasternet.analysis.random_weights import settle_batchnorm
from mmfasternet.deploy import build_backend_model
from mmfasternet.deploy.accuracy import box_iou
from mmfasternet.deploy.convert import pytorch2onnx
from mmfasternet.deploy.export import ExportError, exportable_model
from mmfasternet.errors import InputError
from mmfasternet.models import build_model

REPO = Path(__file__).parents[1]
CONFIGS = dict(
    maskrcnn='configs/demo/maskrcnn_fasternet_t0_synthetic.py',
    retinanet='configs/demo/retinanet_fasternet_t0_synthetic.py',
    rtmdet='configs/demo/rtmdet_fasternet_t0_synthetic.py',
    rtmdet_ins='configs/demo/rtmdet-ins_fasternet_t0_synthetic.py',
    cascade='configs/cascade-maskrcnn_fasternet_t2_ms-crop-3x_coco.py',
    fpn='configs/demo/fpn_fasternet_t0_synthetic.py')
SHAPE = (128, 128)


def random_checkpoint(cfg: Config, path: Path, seed: int = 0) -> str:
    """Random weights (no ImageNet initialisation); the classifiers of
    RetinaNet, RTMDet and the cascade stages are spread out so that some
    scores pass their thresholds (their inits give every box 0.01, or
    1/81)."""
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(seed)
    model = build_model(cfg, None)
    rtmdet = type(getattr(model, 'bbox_head', None)).__name__.startswith(
        'RTMDet')
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.Conv2d | torch.nn.Linear):
            continue
        if rtmdet and 'rtm_reg' in name:  # about one stride each way
            torch.nn.init.constant_(module.bias, 1.)
        if 'retina_cls' in name or 'rtm_cls' in name or \
                name.endswith('fc_cls'):
            torch.nn.init.normal_(module.weight, std=0.3)
            torch.nn.init.zeros_(module.bias)
    if rtmdet:  # its features shrink to 1e-5 through random layers
        settle_batchnorm(model, SHAPE)
    torch.save({'state_dict': model.state_dict()}, path)
    return str(path)


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """name -> (cfg, checkpoint, onnx file, report), exported once."""
    root = tmp_path_factory.mktemp('onnx')
    cache = {}

    def export(name: str):
        if name not in cache:
            cfg = Config.fromfile(str(REPO / CONFIGS[name]))
            checkpoint = random_checkpoint(cfg, root / f'{name}.pth')
            out = str(root / f'{name}.onnx')
            report = pytorch2onnx(cfg, checkpoint, out, shape=SHAPE,
                                  config_name=CONFIGS[name])
            cache[name] = cfg, checkpoint, out, report
        return cache[name]

    return export


def sample_batch(scope: str, seed: int = 1):
    """A preprocessed image and its data sample, as a test loader gives."""
    torch.manual_seed(seed)
    image = torch.randn(1, 3, *SHAPE)
    meta = dict(img_shape=SHAPE, ori_shape=SHAPE, pad_shape=SHAPE,
                batch_input_shape=SHAPE, scale_factor=(1., 1.))
    if scope == 'mmseg':
        from mmseg.structures import SegDataSample
        sample = SegDataSample(metainfo=meta)
    else:
        from mmdet.structures import DetDataSample
        sample = DetDataSample(metainfo=meta)
    return image, sample


def predictions(cfg, checkpoint, onnx_file, backend, precision='fp32'):
    """(PyTorch's own predict, the backend model's) on one image; the
    runtime must report that it compiled the file in ``precision``."""
    model = build_model(cfg, checkpoint)
    image, sample = sample_batch(cfg.default_scope)
    with torch.no_grad():
        reference = model.predict(image, [sample.clone()])[0]
    deployed = build_backend_model(cfg, onnx_file, backend,
                                   precision=precision)
    # Like with like: OpenVINO compiles fp32 files in bf16 on CPUs with
    # bf16 instructions unless asked otherwise.
    assert deployed.precision == precision
    actual = deployed(image, [sample.clone()], mode='predict')[0]
    return reference, actual


def assert_same_detections(reference: InstanceData, actual: InstanceData):
    assert len(reference) > 0
    assert len(actual) == len(reference)
    assert torch.equal(actual.labels, reference.labels)
    iou = box_iou(reference.bboxes.numpy(), actual.bboxes.numpy())
    assert np.diag(iou).min() >= 0.99
    assert (actual.scores - reference.scores).abs().max() < 1e-3
    if 'masks' in reference:
        disagree = (actual.masks != reference.masks).float().mean()
        assert disagree < 1e-3


@pytest.mark.parametrize('backend', ['onnxruntime', 'openvino'])
@pytest.mark.parametrize('name', ['maskrcnn', 'retinanet', 'rtmdet',
                                  'rtmdet_ins', 'cascade'])
def test_exported_detector_predicts_like_mmdet(exported, name, backend):
    cfg, checkpoint, onnx_file, _ = exported(name)
    reference, actual = predictions(cfg, checkpoint, onnx_file, backend)
    assert_same_detections(reference.pred_instances, actual.pred_instances)


@pytest.mark.parametrize('backend', ['onnxruntime', 'openvino'])
def test_exported_segmentor_gives_mmseg_logits_and_labels(exported, backend):
    cfg, checkpoint, onnx_file, _ = exported('fpn')
    reference, actual = predictions(cfg, checkpoint, onnx_file, backend)
    ref_logits = reference.seg_logits.data
    assert ref_logits.shape == actual.seg_logits.data.shape
    assert (actual.seg_logits.data - ref_logits).abs().max() < 1e-3 * max(
        1., ref_logits.abs().max().item())
    agree = (actual.pred_sem_seg.data == reference.pred_sem_seg.data)
    assert agree.float().mean() > 0.999


def test_export_uses_standard_operators_and_passes_the_checker(exported):
    _, _, onnx_file, report = exported('maskrcnn')
    model = onnx.load(onnx_file)
    onnx.checker.check_model(model, full_check=True)
    domains = {node.domain for node in model.graph.node}
    assert domains <= {'', 'ai.onnx'}
    ops = report['operators']
    assert ops['NonMaxSuppression'] == 2  # proposals, detections
    assert ops['RoiAlign'] == 8  # 4 levels for boxes, 4 for masks
    assert [o.name for o in model.graph.output] == ['dets', 'labels',
                                                    'masks']


def test_fasternet_s_backbone_exports_split_conv_concat(tmp_path):
    cfg = Config.fromfile(str(REPO / 'configs/maskrcnn_fasternet_s_coco.py'))
    out = str(tmp_path / 'backbone.onnx')
    report = pytorch2onnx(cfg, None, out, shape=SHAPE, part='backbone')
    ops = report['operators']
    assert 'ScatterND' not in ops
    assert not {'Shape', 'Gather', 'Slice', 'Reshape'} & set(ops)
    # Split sizes are the only constants; the four output norms the only
    # BatchNorm left (nothing before them to fold into).
    assert set(ops) == {'Conv', 'Split', 'Concat', 'Relu', 'Add',
                        'Constant', 'BatchNormalization'}
    blocks = sum((1, 2, 13, 2))
    assert ops['Split'] == ops['Concat'] == ops['Add'] == blocks
    assert ops['Conv'] == 1 + 3 + 3 * blocks
    assert ops['BatchNormalization'] == 4
    assert abs(report['bytes_per_parameter'] - 4) < 0.2


def test_dynamic_export_runs_at_another_size(tmp_path):
    cfg = Config.fromfile(str(REPO / CONFIGS['retinanet']))
    checkpoint = random_checkpoint(cfg, tmp_path / 'r.pth')
    out = str(tmp_path / 'dynamic.onnx')
    pytorch2onnx(cfg, checkpoint, out, shape=SHAPE, dynamic=True)
    model = build_model(cfg, checkpoint)
    image, sample = sample_batch('mmdet')
    image = torch.nn.functional.interpolate(image, size=(96, 160))
    sample.set_metainfo(dict(img_shape=(96, 160), ori_shape=(96, 160),
                             pad_shape=(96, 160),
                             batch_input_shape=(96, 160)))
    with torch.no_grad():
        reference = model.predict(image, [sample.clone()])[0]
    actual = build_backend_model(cfg, out)(image, [sample.clone()])[0]
    assert_same_detections(reference.pred_instances, actual.pred_instances)


def test_cascade_export_runs_every_stage(exported):
    """Three box stages and three mask stages, each pooling 4 levels, and
    the two NMS (proposals, detections) in the graph."""
    ops = exported('cascade')[3]['operators']
    assert ops['RoiAlign'] == 4 * (3 + 3)
    assert ops['NonMaxSuppression'] == 2


def test_unsupported_part_is_named(tmp_path):
    cfg = Config.fromfile(str(REPO / CONFIGS['maskrcnn']))
    cfg.model.roi_head.type = 'PISARoIHead'
    model = build_model(cfg, None)
    with pytest.raises(ExportError, match='PISARoIHead'):
        exportable_model(model)


@pytest.mark.parametrize('name', ['rtmdet_ins', 'maskrcnn'])
def test_boxes_and_masks_stay_in_the_image_the_input_pads(exported, name):
    """A 96x128 image padded to the file's 128x128 (RTMDet pads every test
    image to 640x640): mmdet clips boxes to the image, not the padding, and
    its masks come out in the original image's size."""
    cfg, checkpoint, onnx_file, _ = exported(name)
    model = build_model(cfg, checkpoint)
    image, sample = sample_batch('mmdet')
    image[..., 96:, :] = 0
    sample.set_metainfo(dict(img_shape=(96, 128), ori_shape=(48, 64),
                             scale_factor=(2., 2.)))
    with torch.no_grad():
        reference = model.predict(image, [sample.clone()])[0]
    actual = build_backend_model(cfg, onnx_file)(image, [sample.clone()])[0]
    assert_same_detections(reference.pred_instances, actual.pred_instances)
    boxes = actual.pred_instances.bboxes
    assert boxes[:, 3].max() <= 48 and boxes[:, 2].max() <= 64
    assert actual.pred_instances.masks.shape[-2:] == (48, 64)


def test_operator_without_translation_is_named(tmp_path):
    from mmcv.ops import nms

    from mmfasternet.deploy.convert import _export

    class MmcvNms(torch.nn.Module):
        def forward(self, boxes):
            return nms(boxes, boxes[:, 0], 0.5)[1]

    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 11., 11.]])
    with pytest.raises(ExportError, match="Python operator NMSop"):
        _export(MmcvNms(), boxes, str(tmp_path / 'x.onnx'), ['keep'], 17,
                False)


def test_unsupported_opset_is_refused_before_export(tmp_path):
    cfg = Config.fromfile(str(REPO / CONFIGS['fpn']))
    with pytest.raises(InputError, match='--opset 11'):
        pytorch2onnx(cfg, None, str(tmp_path / 'x.onnx'), shape=SHAPE,
                     opset=11)


def tool(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO,
                          capture_output=True, text=True)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith('(set MMFASTERNET_TRACEBACK=1')
    assert lines[-2].startswith('error: ')
    return lines[-2]


@pytest.mark.slow
def test_missing_onnx_file_is_one_line_error(tmp_path):
    error = one_line_error(tool('tools/test.py', CONFIGS['maskrcnn'],
                                str(tmp_path / 'nothing.onnx')))
    assert 'nothing.onnx' in error and 'pytorch2onnx.py' in error


@pytest.mark.slow
def test_onnx_of_another_task_or_classes_is_one_line_error(exported):
    _, _, fpn_onnx, _ = exported('fpn')
    error = one_line_error(tool('tools/test.py', CONFIGS['maskrcnn'],
                                fpn_onnx))
    assert 'segmentation model' in error
    _, _, det_onnx, _ = exported('retinanet')
    error = one_line_error(tool(
        'tools/test.py', CONFIGS['retinanet'], det_onnx, '--cfg-options',
        'model.bbox_head.num_classes=3'))
    assert 'predicts 4 classes and the config 3' in error


@pytest.mark.slow
def test_backend_flag_needs_an_onnx_file(exported):
    _, checkpoint, _, _ = exported('retinanet')
    error = one_line_error(tool('tools/test.py', CONFIGS['retinanet'],
                                checkpoint, '--backend', 'openvino'))
    assert '.onnx' in error


@pytest.mark.slow
def test_export_without_shape_takes_the_test_pipeline_size(tmp_path):
    # A fixed 800x1344 default padded the demo's 256x256 images with zeros
    # (2 points of bbox mAP lost); the demo's test resize fits 256x256.
    out = str(tmp_path / 'fpn.onnx')
    result = tool('tools/deployment/pytorch2onnx.py', CONFIGS['fpn'],
                  'none', '--out', out)
    assert result.returncode == 0, result.stderr[-2000:]
    from mmfasternet.deploy.backends import read_metadata
    assert read_metadata(out)['input_shape'] == [256, 256]


@pytest.mark.parametrize('config,expected', [
    ('configs/demo/maskrcnn_fasternet_t0_synthetic.py', ((256, 256), False)),
    ('configs/rtmdet_fasternet_t0_coco.py', ((640, 640), False)),  # Pad
    # Either orientation after a ratio-keeping resize: no fixed size fits.
    ('configs/maskrcnn_fasternet_s_coco.py', ((800, 1344), True)),
    ('configs/upernet_fasternet_t0_ade20k.py', ((512, 512), True)),
])
def test_export_shape_follows_the_test_pipeline(config, expected):
    from mmfasternet.deploy.convert import export_shape
    cfg = Config.fromfile(str(REPO / config))
    assert export_shape(cfg) == expected
    assert export_shape(cfg, (320, 480)) == ((320, 480), False)
    assert export_shape(cfg, dynamic=True)[1] is True


@pytest.mark.slow
def test_dynamic_export_runs_any_size(tmp_path):
    out = str(tmp_path / 'fpn.onnx')
    result = tool('tools/deployment/pytorch2onnx.py', CONFIGS['fpn'],
                  'none', '--out', out, '--dynamic')
    assert result.returncode == 0, result.stderr[-2000:]
    from mmfasternet.deploy.backends import Session, read_metadata
    assert read_metadata(out)['input_shape'] is None
    [logits] = Session(out).run(torch.randn(1, 3, 96, 160))
    assert logits.shape[-2:] == (96, 160)


def test_fixed_size_file_warns_once_when_it_pads_much_more_than_an_image(
        exported, monkeypatch):
    import mmfasternet.deploy.backends as backends
    cfg, _, onnx_file, _ = exported('retinanet')
    model = build_backend_model(cfg, onnx_file)
    logged = []
    monkeypatch.setattr(backends, 'print_log',
                        lambda message, **kwargs: logged.append(message))
    from mmdet.structures import DetDataSample
    for size in ((120, 128), (64, 64), (64, 64)):  # the file takes 128x128
        sample = DetDataSample(metainfo=dict(
            img_shape=size, ori_shape=size, scale_factor=(1., 1.)))
        model(torch.randn(1, 3, *size), [sample], mode='predict')
    [warning] = logged  # none for the near fit, one for the small images
    assert 'takes 128x128 inputs and pads the 64x64 images' in warning
    assert 'export without --shape' in warning


@pytest.mark.slow
def test_test_tool_passes_the_precision_to_the_runtime(exported, tmp_path):
    _, _, onnx_file, _ = exported('retinanet')
    error = one_line_error(tool('tools/test.py', CONFIGS['retinanet'],
                                onnx_file, '--backend', 'onnxruntime',
                                '--precision', 'bf16'))
    assert '--precision bf16' in error and '--backend openvino' in error
    from mmfasternet.apis.runner import prepare_testing
    from mmfasternet.datasets import make_coco_dataset
    root = make_coco_dataset(str(tmp_path / 'coco'), num_train=1, num_val=1,
                             size=64)
    cfg = prepare_testing(
        CONFIGS['retinanet'], onnx_file, work_dir=str(tmp_path),
        backend='openvino', precision='fp32',
        cfg_options={'test_dataloader.dataset.data_root': f'{root}/'})
    assert (cfg.model.backend, cfg.model.precision) == ('openvino', 'fp32')


@pytest.mark.slow
def test_export_tool_refuses_unsupported_opset(tmp_path):
    error = one_line_error(tool(
        'tools/deployment/pytorch2onnx.py', CONFIGS['fpn'], 'none', '--out',
        str(tmp_path / 'x.onnx'), '--opset', '11'))
    assert '--opset 11' in error


def detections(*boxes):
    """(dets, labels) from (x1, y1, x2, y2, score, label) tuples."""
    rows = torch.tensor(boxes, dtype=torch.float32)
    return [rows[:, :5], rows[:, 5].long()]


def test_detections_are_matched_box_for_box_and_ties_either_way():
    from mmfasternet.deploy.convert import compare_outputs
    names = ['dets', 'labels']
    reference = detections((0, 0, 10, 10, .9, 1), (20, 20, 30, 30, .5, 2),
                           (40, 40, 50, 50, .3, 2))
    # the same boxes in another order, and the 0.3 box replaced by another
    # of its class with the same score (a tie broken the other way)
    actual = detections((20, 20, 30, 30, .5, 2), (0, 0, 10, 10, .9001, 1),
                        (60, 60, 70, 70, .3004, 2))
    diffs = compare_outputs(names, reference, actual)
    assert diffs['tied_boxes'] == 1 and diffs['dets'] == pytest.approx(
        1e-4, abs=1e-6)
    # a box of another score is not a tie
    different = detections((20, 20, 30, 30, .5, 2), (0, 0, 10, 10, .9, 1),
                           (60, 60, 70, 70, .25, 2))
    with pytest.raises(ExportError, match="no box for PyTorch's box 2 "
                       r'\(class 2, score 0.3000\)'):
        compare_outputs(names, reference, different)
    # nor a box of another class above the cut
    other_class = detections((20, 20, 30, 30, .5, 2), (0, 0, 10, 10, .9, 3),
                             (40, 40, 50, 50, .3, 2))
    with pytest.raises(ExportError, match="PyTorch's box 0 .class 1"):
        compare_outputs(names, reference, other_class)
    # at the lowest kept score, the cut may take a box of any class
    cut = detections((20, 20, 30, 30, .5, 2), (0, 0, 10, 10, .9, 1),
                     (60, 60, 70, 70, .3, 7))
    assert compare_outputs(names, reference, cut)['tied_boxes'] == 1


def test_box_corners_may_differ_by_a_ten_thousandth_of_the_input():
    from mmfasternet.deploy.convert import compare_outputs
    names = ['dets', 'labels']
    reference = detections((100, 100, 300, 300, .5, 1))
    moved = detections((100, 100, 300.05, 300, .5, 1))
    with pytest.raises(ExportError, match="'dets' differs .*bound 0.03"):
        compare_outputs(names, reference, moved)  # 1e-4 of the corner
    assert compare_outputs(names, reference, moved, (640, 640))[
        'dets'] == pytest.approx(0.05, abs=1e-4)
    with pytest.raises(ExportError, match="'dets' differs .*bound 0.064"):
        compare_outputs(names, reference,
                        detections((100, 100, 300.07, 300, .5, 1)),
                        (640, 640))
    # mask probabilities are no pixels: the input's size does not widen them
    masks = torch.full((1, 28, 28), .5)
    with pytest.raises(ExportError, match="'masks' differs .*bound 0.001"):
        compare_outputs(['masks'], [masks], [masks + .01], (640, 640))


def test_multiclass_nms_op_equals_mmdet_and_its_onnx_translation(tmp_path):
    """The per-class NMS of the exported bbox head: mmdet's multiclass_nms
    in PyTorch (score threshold and IoU threshold both at work), and the
    same rows from ONNX Runtime's NonMaxSuppression."""
    import onnxruntime as ort
    from mmdet.models.layers import multiclass_nms as mmdet_multiclass_nms

    from mmfasternet.deploy.ops import multiclass_nms, register_onnx_symbolics
    generator = torch.Generator().manual_seed(0)
    num, classes = 300, 5
    corner = torch.rand(num, classes, 2, generator=generator) * 100
    size = torch.rand(num, classes, 2, generator=generator) * 40 + 1
    boxes = torch.cat([corner, corner + size], -1)  # (num, classes, 4)
    scores = torch.rand(num, classes, generator=generator)
    dets, labels = mmdet_multiclass_nms(
        boxes.reshape(num, -1), torch.cat([scores, torch.zeros(num, 1)], 1),
        0.3, dict(type='nms', iou_threshold=0.5), max_num=-1)
    per_class_boxes = boxes.transpose(0, 1).contiguous()
    per_class_scores = scores.t().contiguous()
    kept = multiclass_nms(per_class_boxes, per_class_scores, 0.5, 0.3)
    kept_scores = per_class_scores[kept[:, 0], kept[:, 1]]
    order = kept_scores.argsort(descending=True)
    assert 0 < len(kept) < num * classes and (kept_scores > 0.3).all()
    assert torch.equal(kept[order, 0], labels)
    assert torch.allclose(kept_scores[order], dets[:, 4])

    class PerClassNMS(torch.nn.Module):
        def forward(self, boxes, scores):
            return multiclass_nms(boxes, scores, 0.5, 0.3)

    register_onnx_symbolics(17)
    path = str(tmp_path / 'nms.onnx')
    torch.onnx.export(PerClassNMS(), (per_class_boxes, per_class_scores),
                      path, dynamo=False, opset_version=17,
                      input_names=['boxes', 'scores'])
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    [rows] = session.run(None, {'boxes': per_class_boxes.numpy(),
                                'scores': per_class_scores.numpy()})
    assert torch.equal(torch.from_numpy(rows), kept)


@pytest.mark.slow
def test_an_export_of_an_ema_config_is_evaluated_like_the_checkpoint(
        exported, tmp_path):
    """RTMDet trains with EMA; mmengine's EMAHook would copy the runtime's
    session at the start of a test run. The export already holds the
    checkpoint's (averaged) weights, so the ONNX file scores what the
    checkpoint scores, through the test loop and evaluator."""
    from mmfasternet.apis.runner import evaluate
    from mmfasternet.datasets import make_coco_dataset
    cfg, checkpoint, _, _ = exported('rtmdet')
    onnx_file = str(tmp_path / 'rtmdet_256.onnx')  # the pipeline's size
    pytorch2onnx(cfg, checkpoint, onnx_file, shape=(256, 256))
    root = make_coco_dataset(str(tmp_path / 'coco'), num_train=1, num_val=2,
                             size=128)
    ann = f'{root}/annotations/instances_val2017.json'
    options = {'test_dataloader.dataset.data_root': f'{root}/',
               'test_dataloader.num_workers': 0,
               'test_dataloader.persistent_workers': False,
               'test_evaluator.ann_file': ann}
    runs = {source: evaluate(CONFIGS['rtmdet'], source,
                             str(tmp_path / name), cfg_options=options,
                             backend=backend)
            for source, name, backend in ((checkpoint, 'pth', None),
                                          (onnx_file, 'onnx', 'openvino'))}
    pytorch, deployed = runs[checkpoint], runs[onnx_file]
    assert deployed['precision'] == 'fp32'
    assert deployed['metrics'] == pytest.approx(pytorch['metrics'],
                                                abs=3e-3)
