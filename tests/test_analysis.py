"""FLOPs and parameter counts against hand counts and published figures;
the model benchmark's forms, parts and results files; the operator
benchmark. Tiny shapes and one timed run: speed is never asserted here."""
import csv
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config

import mmfasternet.inference
from mmfasternet.analysis.benchmark import (BenchmarkSpec, format_results,
                                            run_benchmark)
from mmfasternet.analysis.complexity import count_complexity, count_flops
from mmfasternet.analysis.forms import Form, keep_detections, parse_form
from mmfasternet.analysis.models import load_any_config
from mmfasternet.analysis.operators import (benchmark_operators, dense_peak,
                                            operators)
from mmfasternet.analysis.random_weights import settle_batchnorm
from mmfasternet.apis.benchmark import benchmark_specs
from mmfasternet.deploy.convert import operator_counts
from mmfasternet.deploy.precision import openvino_cpu_capabilities
from mmfasternet.errors import InputError
from mmfasternet.models import build_model
from mmfasternet.models.backbones.fasternet import FasterNet, PartialConv3x3
from mmfasternet.ops import use_fast_roi_align

REPO = Path(__file__).parents[1]
MASKRCNN_T0 = 'configs/maskrcnn_fasternet_t0_coco.py'
RETINANET_T0 = 'configs/retinanet_fasternet_t0_coco.py'
TINY = (64, 64)
RTMDET_TINY = 'mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py'


def tool(*args, timeout=600) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop('MMFASTERNET_TRACEBACK', None)
    return subprocess.run([sys.executable, *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout,
                          env=env)


class Holder(nn.Module):
    """Something with a ``backbone``, as the counter expects."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone


def backbone_flops(module: nn.Module, shape) -> int:
    return count_complexity(Holder(module.eval()), 'mmdet', shape,
                            backbone_only=True)['model']['flops']


# --- FLOPs by hand, from the layer shapes --------------------------------

def test_conv_flops_are_multiply_adds_per_output_pixel():
    conv = nn.Conv2d(8, 16, 3, padding=1, bias=False)
    # 16 outputs x 8 inputs x 3 x 3 taps at each of 10 x 12 pixels
    assert count_flops(conv, torch.randn(1, 8, 10, 12)) == \
        16 * 8 * 9 * 10 * 12 == 138240


def test_partial_conv_flops_are_a_sixteenth_of_the_dense_conv():
    # 16 channels, a quarter (4) convolved: 4 x 4 x 9 taps at 8 x 8 pixels
    x = torch.randn(1, 16, 8, 8)
    assert count_flops(PartialConv3x3(16), x) == 4 * 4 * 9 * 64
    assert count_flops(nn.Conv2d(16, 16, 3, padding=1, bias=False),
                       x) == 16 * 9216


def test_small_fasternet_flops_match_a_hand_count_with_batchnorm():
    """embed 8, one block per stage, 32x32 input. Per block at C channels
    and P pixels: PConv (C/4)^2*9*P, 1x1 C->2C and 2C->C 2*C^2*P each, its
    BatchNorm (scale and shift) 2*2C*P; each stage's output norm 2*C*P."""
    model = FasterNet(arch=dict(embed_dim=8, depths=(1, 1, 1, 1),
                                act='ReLU'), drop_path_rate=0.)
    stem = 8 * 3 * 4 * 4 * 64 + 2 * 8 * 64  # 4x4/4 conv to 8x8, BN
    total = stem
    for stage, (channels, pixels) in enumerate(
            [(8, 64), (16, 16), (32, 4), (64, 1)]):
        if stage:  # 2x2/2 merging from half the channels, BN
            total += channels * (channels // 2) * 4 * pixels
            total += 2 * channels * pixels
        total += (channels // 4)**2 * 9 * pixels
        total += 2 * (2 * channels * channels * pixels)
        total += 2 * (2 * channels) * pixels
        total += 2 * channels * pixels  # output norm
    assert backbone_flops(model, (32, 32)) == total == 131584


# --- published figures ---------------------------------------------------

# Official README (JierunChen/FasterNet), ImageNet classifiers at 224x224:
# parameters with the classifier (M), FLOPs of convolutions only (G).
OFFICIAL = {'t0': (3.9, 0.34), 't1': (7.6, 0.85), 't2': (15.0, 1.90),
            's': (31.1, 4.55), 'm': (53.5, 8.72), 'l': (93.4, 15.49)}


def test_backbone_parameters_match_the_official_figures():
    """Our backbone has four output norms the classifier has not, and no
    classifier head (1x1 conv 8e->1280, linear 1280->1000 with bias)."""
    for arch, (official, _) in OFFICIAL.items():
        model = FasterNet(arch=arch)
        embed = model.embed_dim
        norms = sum(2 * embed * 2**i for i in range(4))
        head = 8 * embed * 1280 + 1280 * 1000 + 1000
        params = sum(p.numel() for p in model.parameters())
        # within the last published digit: the official table rounds T2 up
        # (14.98 -> 15.0) but S and L down (31.18 -> 31.1, 93.47 -> 93.4)
        assert abs((params - norms + head) / 1e6 - official) < 0.1, arch


@pytest.mark.parametrize('arch', ['t0', 't2', 's'])  # M, L: slow to trace
def test_backbone_flops_match_the_official_conv_only_figures(arch):
    """The official FLOPs count convolutions only: fold BatchNorm away,
    take off the output norms, add the classifier head's multiply-adds."""
    model = FasterNet(arch=arch)
    model.switch_to_deploy()
    embed = model.embed_dim
    output_norms = sum(2 * embed * 2**i * (56 // 2**i)**2 for i in range(4))
    head = 8 * embed * 1280 + 1280 * 1000
    flops = backbone_flops(model, (224, 224)) - output_norms + head
    assert round(flops / 1e9, 2) == OFFICIAL[arch][1]


def test_mask_rcnn_parameters_match_the_paper():
    """The paper's Mask R-CNN FasterNet-S: 49.0M parameters (M, L: 71.2M,
    110.9M, the same heads on the backbones checked above)."""
    cfg = Config.fromfile(str(REPO / 'configs/maskrcnn_fasternet_s_coco.py'))
    params = sum(p.numel() for p in build_model(cfg).parameters())
    assert round(params / 1e6, 1) == 49.0


def test_mmdet_configs_load_by_package_name():
    cfg = load_any_config('mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py')
    assert cfg.model.backbone.type == 'ResNet'


# --- forms ---------------------------------------------------------------

def test_form_names_spell_the_choices_in_order():
    assert parse_form('train_fp32') == Form()
    assert parse_form('deploy_cl_bf16_compile_fastroi') == Form(
        True, True, 'bf16', True, True)
    assert parse_form('train_cl_bf16_fuse') == Form(
        False, True, 'bf16', fuse=True)
    for name in ('deploy_cl_bf16', 'train_cl_fp32', 'deploy_fp16_compile',
                 'deploy_cl_bf16_compile_fastroi_fuse'):
        assert parse_form(name).name == name


@pytest.mark.parametrize('name', ['fp32', 'deploy', 'train_cl',
                                  'deploy_bf16_fastroi_compile',
                                  'deploy_bf16_fuse_fastroi',
                                  'train_fp32_turbo', 'cl_train_fp32'])
def test_bad_form_names_are_refused_with_the_grammar(name):
    with pytest.raises(InputError, match=r'\{train\|deploy\}'):
        parse_form(name)


def test_fast_roi_align_replaces_every_roi_layer_of_a_mask_rcnn():
    cfg = Config.fromfile(str(REPO / MASKRCNN_T0))
    assert use_fast_roi_align(cfg.model) == 2  # bbox and mask extractors
    roi_head = cfg.model.roi_head
    assert roi_head.bbox_roi_extractor.roi_layer.type == 'FastRoIAlign'
    assert roi_head.mask_roi_extractor.roi_layer.type == 'FastRoIAlign'
    assert use_fast_roi_align(Config.fromfile(
        str(REPO / RETINANET_T0)).model) == 0


def test_kept_detections_change_detectors_not_segmentors():
    detector = Config.fromfile(str(REPO / MASKRCNN_T0)).model
    keep_detections(detector, 100)
    assert detector.test_cfg.rcnn.score_thr == 0
    assert detector.test_cfg.rcnn.max_per_img == 100
    segmentor = Config.fromfile(
        str(REPO / 'configs/fpn_fasternet_t0_ade20k.py')).model
    before = dict(segmentor.test_cfg)
    keep_detections(segmentor, 100)
    assert dict(segmentor.test_cfg) == before


# --- the model benchmark -------------------------------------------------

def bench(configs, forms, backbone_only=False, **kwargs):
    specs = [BenchmarkSpec(c, parse_form(f), backbone_only)
             for c in configs for f in forms]
    kwargs.setdefault('shape', TINY)
    kwargs.setdefault('repeat', 1)
    kwargs.setdefault('warmup', 0)
    return run_benchmark(specs, log=lambda line: None, **kwargs)


def peer_config(tmp_path) -> str:
    """A ResNet-18 RetinaNet in a file whose name says 'fasternet': the
    deploy decision must come from the built model."""
    cfg = Config.fromfile(str(REPO / RETINANET_T0))
    cfg.model.backbone = dict(type='ResNet', depth=18, out_indices=(1, 2, 3),
                              norm_eval=True, init_cfg=None)
    cfg.model.neck.in_channels = [128, 256, 512]
    path = tmp_path / 'retinanet_fasternet_t0_lookalike.py'
    cfg.dump(str(path))
    return str(path)


def broken_compile(model, **kwargs):
    """Stands in for inductor: the first call fails naming an op."""
    def refuse(module, args):
        raise RuntimeError('aten.unsupported_op: no lowering here')
    model.backbone.register_forward_pre_hook(refuse)
    return ['backbone']


@pytest.fixture(scope='module')
def side_by_side(tmp_path_factory):
    """One interleaved run: a Mask R-CNN T0 and a ResNet-18 RetinaNet in
    every kind of form, parts timed, 5 detections kept, compile broken."""
    peer = peer_config(tmp_path_factory.mktemp('peer'))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mmfasternet.inference, 'compile_dense_parts',
                      broken_compile)
        results = bench([MASKRCNN_T0, peer],
                        ['train_fp32', 'deploy_fp32', 'train_cl_bf16',
                         'train_fp32_fastroi', 'train_fp32_compile',
                         'deploy_fp32_fuse'],
                        parts=True, detections=5, repeat=2)
    return {(r.model, r.form): r for r in results}, results


MASK, PEER = 'maskrcnn_fasternet_t0_coco', 'retinanet_fasternet_t0_lookalike'


@pytest.mark.slow
def test_forms_run_as_the_model_allows_deploy_decided_from_the_model(
        side_by_side):
    _, results = side_by_side
    assert [(r.model, r.form, r.ran_as) for r in results] == [
        (MASK, 'train_fp32', 'train_fp32'),
        (MASK, 'deploy_fp32', 'deploy_fp32'),
        (MASK, 'train_cl_bf16', 'train_cl_bf16'),
        (MASK, 'train_fp32_fastroi', 'train_fp32_fastroi'),
        (MASK, 'train_fp32_compile', 'train_fp32_compile'),
        (MASK, 'deploy_fp32_fuse', 'deploy_fp32_fuse'),
        # the peer has no FasterNet (whatever its file name says) and no
        # RoIAlign: its deploy_fp32 and train_fp32_fastroi are its
        # train_fp32, timed once
        (PEER, 'train_fp32', 'train_fp32'),
        (PEER, 'train_cl_bf16', 'train_cl_bf16'),
        (PEER, 'train_fp32_compile', 'train_fp32_compile'),
        # its BatchNorm is folded by fuse alone
        (PEER, 'deploy_fp32_fuse', 'train_fp32_fuse'),
    ]


def test_every_form_runs_the_same_weights_on_the_same_input(side_by_side):
    by_form, _ = side_by_side
    # the training form is its own reference; the fold changes rounding
    # only; bf16 changes more
    assert by_form[(MASK, 'train_fp32')].rel_error_vs_fp32 == 0
    assert by_form[(MASK, 'train_fp32_fastroi')].rel_error_vs_fp32 == 0
    assert 0 < by_form[(MASK, 'deploy_fp32')].rel_error_vs_fp32 < 1e-4
    assert 1e-4 < by_form[(MASK, 'train_cl_bf16')].rel_error_vs_fp32 < 0.1
    assert 0 < by_form[(PEER, 'deploy_fp32_fuse')].rel_error_vs_fp32 < 1e-4
    for (_, form), r in by_form.items():
        if form.endswith('compile'):
            continue  # broken on purpose here
        assert r.error == '', r.error
        assert len(r.times_ms) == 2 and r.height == 64
        assert r.median_ms == pytest.approx(sum(r.times_ms) / 2)


def test_parts_of_a_mask_rcnn_cover_each_stage_of_the_forward(
        side_by_side):
    by_form, _ = side_by_side
    result = by_form[(MASK, 'train_fp32')]
    parts = result.parts_ms
    assert list(parts)[:4] == ['backbone', 'neck', 'rpn_head+proposals',
                               'bbox_roi_extractor']
    for name in ('bbox_head', 'bbox_post(nms)', 'mask_roi_extractor',
                 'mask_head', 'mask_post(paste)', 'other'):
        assert name in parts
    timed = [v for k, v in parts.items() if k != 'other']
    assert all(v > 0 for v in timed)
    assert sum(timed) <= max(result.times_ms)
    assert set(by_form[(PEER, 'train_fp32')].parts_ms) == {
        'backbone', 'neck', 'bbox_head+post', 'other'}


def test_a_compile_failure_is_recorded_in_its_row(side_by_side):
    by_form, _ = side_by_side
    for model in (MASK, PEER):
        failed = by_form[(model, 'train_fp32_compile')]
        assert failed.times_ms == [] and math.isnan(failed.median_ms)
        assert failed.error.startswith('compile failed')
        assert 'aten.unsupported_op' in failed.error


def test_batch_multiplies_flops_and_images_per_second():
    [result] = bench([RETINANET_T0], ['deploy_fp32'], backbone_only=True,
                     batch=2)
    one_image = backbone_flops(FasterNet(arch='t0'), TINY)
    assert result.part == 'backbone' and result.batch == 2
    assert result.flops == 2 * one_image
    assert result.images_per_s == pytest.approx(2000 / result.median_ms)
    assert result.params == sum(
        p.numel() for p in FasterNet(arch='t0').parameters())


@pytest.mark.slow
def test_runtimes_time_the_exported_model_beside_pytorch(tmp_path):
    specs = [BenchmarkSpec(MASKRCNN_T0, parse_form('deploy_fp32')),
             BenchmarkSpec(MASKRCNN_T0, backend='onnxruntime'),
             BenchmarkSpec(MASKRCNN_T0, backend='openvino')]
    results = run_benchmark(specs, shape=TINY, repeat=2, warmup=0,
                            detections=5, export_dir=str(tmp_path),
                            log=lambda line: None)
    # Each runtime row says what was asked and what the runtime compiled.
    assert [(r.backend, r.form, r.ran_as, r.precision, r.error)
            for r in results] == [
        ('pytorch', 'deploy_fp32', 'deploy_fp32', 'fp32', ''),
        ('onnxruntime', 'onnxruntime_fp32', 'onnxruntime_fp32', 'fp32', ''),
        ('openvino', 'openvino_fp32', 'openvino_fp32', 'fp32', '')]
    assert all(len(r.times_ms) == 2 and r.median_ms > 0 for r in results)
    assert len({r.flops for r in results}) == 1  # the same model
    # one export, checked against PyTorch, served both runtimes; the
    # weights it was exported from lie beside it
    exported = tmp_path / 'maskrcnn_fasternet_t0_coco_model_64x64.onnx'
    assert sorted(tmp_path.iterdir()) == [exported,
                                          exported.with_suffix('.pth')]
    counts = operator_counts(str(exported))
    assert counts['NonMaxSuppression'] == 2 and counts['RoiAlign'] == 8
    assert 'BatchNormalization' not in counts or counts[
        'BatchNormalization'] == 4  # the backbone's output norms only


@pytest.mark.skipif(
    'BF16' not in openvino_cpu_capabilities(),
    reason='this CPU has no bf16 instructions: bf16 is refused (tested in '
    'tests/test_runtime_precision.py)')
@pytest.mark.slow
def test_openvino_bf16_row_records_the_compiled_precision(tmp_path):
    results = run_benchmark(
        [BenchmarkSpec(RETINANET_T0, backend='openvino', precision=p)
         for p in ('fp32', 'bf16')], shape=TINY, repeat=1, warmup=0,
        export_dir=str(tmp_path), log=lambda line: None)
    assert [(r.form, r.ran_as, r.precision) for r in results] == [
        ('openvino_fp32', 'openvino_fp32', 'fp32'),
        ('openvino_bf16', 'openvino_bf16', 'bf16')]
    assert 'openvino_bf16' in format_results(results)


@pytest.mark.slow
def test_int8_rows_time_the_quantized_export_in_both_runtimes(tmp_path):
    results = run_benchmark(
        [BenchmarkSpec(RETINANET_T0, backend=b, precision='int8')
         for b in ('onnxruntime', 'openvino')], shape=TINY, repeat=1,
        warmup=0, export_dir=str(tmp_path), log=lambda line: None)
    assert [(r.form, r.ran_as, r.precision, r.error) for r in results] == [
        ('onnxruntime_int8', 'onnxruntime_int8', 'int8', ''),
        ('openvino_int8', 'openvino_int8', 'int8', '')]
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ['retinanet_fasternet_t0_coco_model_64x64.onnx',
                     'retinanet_fasternet_t0_coco_model_64x64.pth',
                     'retinanet_fasternet_t0_coco_model_64x64_int8.onnx']


def test_bf16_in_onnx_runtime_is_refused_before_anything_is_built():
    with pytest.raises(InputError, match='--precision bf16.*--backend '
                       'openvino'):
        run_benchmark([BenchmarkSpec(RETINANET_T0, backend='onnxruntime',
                                     precision='bf16')], shape=TINY,
                      repeat=1, warmup=0)


@pytest.mark.slow
def test_an_export_that_fails_its_check_is_timed_in_no_runtime(
        tmp_path, monkeypatch):
    import mmfasternet.deploy.convert as convert

    def differ(*args, **kwargs):
        raise convert.ExportError("ONNX Runtime output 'dets' differs")
    monkeypatch.setattr(convert, 'compare_outputs', differ)
    results = run_benchmark(
        [BenchmarkSpec(RETINANET_T0, backend='onnxruntime'),
         BenchmarkSpec(RETINANET_T0, backend='openvino')], shape=TINY,
        repeat=1, warmup=0, export_dir=str(tmp_path), log=lambda line: None)
    for result in results:  # the second runtime does not reuse the file
        assert result.error == ("export failed: ONNX Runtime output 'dets' "
                                'differs') and not result.times_ms
    assert list(tmp_path.iterdir()) == []


def test_settled_batchnorm_keeps_random_features_at_a_trained_scale():
    cfg = load_any_config(RTMDET_TINY)
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    image = torch.randn(1, 3, 320, 320)

    def features_and_scores():
        with torch.no_grad():
            features = model.extract_feat(image)
            scores = model.bbox_head(features)[0]
        return ([f.std().item() for f in features],
                torch.cat([s.flatten() for s in scores]).sigmoid())

    before, tied = features_and_scores()
    # the premise: every score at the head's prior, 0.01, to rounding
    assert max(before) < 1e-3 and (tied - 0.01).abs().max() < 1e-6
    settle_batchnorm(model, (320, 320))
    after, scores = features_and_scores()
    assert all(0.5 < std < 10 for std in after)
    assert scores.unique().numel() > scores.numel() // 2
    assert not any(m.training for m in model.modules())


@pytest.mark.slow
def test_a_deep_detector_settled_on_one_large_batch_stays_finite():
    """RTMDet-L's box distances are exponentials of its head's output: with
    BatchNorm settled on 2 images they overflow to inf on fresh noise."""
    cfg = load_any_config('mmdet::rtmdet/rtmdet_l_8xb32-300e_coco.py')
    torch.manual_seed(0)
    model = settle_batchnorm(build_model(cfg), (320, 320))
    torch.manual_seed(1)
    with torch.no_grad():
        for _ in range(3):
            features = model.extract_feat(torch.randn(1, 3, 320, 320))
            distances = model.bbox_head(features)[1]
            assert max(f.std().item() for f in features) < 10
            assert max(d.abs().max().item() for d in distances) < 1000


@pytest.mark.slow
def test_an_untrained_rtmdet_is_exported_and_timed_beside_pytorch(tmp_path):
    """Without settled BatchNorm every score of a random RTMDet-tiny ties
    and ONNX Runtime's NMS keeps other boxes than PyTorch's: the export's
    check refused the file and the runtime rows had no time."""
    results = run_benchmark(
        [BenchmarkSpec(RTMDET_TINY, parse_form('deploy_fp32_fuse')),
         BenchmarkSpec(RTMDET_TINY, backend='onnxruntime')],
        shape=(320, 320), repeat=1, warmup=0, detections=100,
        export_dir=str(tmp_path), log=lambda line: None)
    assert [(r.form, r.error) for r in results] == [
        ('deploy_fp32_fuse', ''), ('onnxruntime_fp32', '')]
    assert all(len(r.times_ms) == 1 for r in results)
    weights = torch.load(
        tmp_path / 'rtmdet_tiny_8xb32-300e_coco_model_320x320.pth',
        weights_only=True)['state_dict']
    means = [v for k, v in weights.items() if k.endswith('running_mean')]
    assert means and all(m.abs().sum() > 0 for m in means)  # settled


def test_runtime_backends_are_timed_on_the_cpu_only():
    with pytest.raises(InputError, match='--backends onnxruntime'):
        run_benchmark([BenchmarkSpec(RETINANET_T0, backend='onnxruntime')],
                      device='cuda', shape=TINY, repeat=1, warmup=0)


@pytest.mark.slow
def test_compile_form_gives_the_eager_values():
    [eager, compiled] = bench([RETINANET_T0],
                              ['deploy_fp32', 'deploy_fp32_compile'],
                              backbone_only=True, shape=(32, 32))
    if compiled.error:
        pytest.skip(f'inductor cannot compile here: {compiled.error}')
    assert compiled.times_ms and compiled.rel_error_vs_fp32 < 1e-4


def test_cuda_forms_run_on_cuda():
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match='--device cuda'):
            bench([RETINANET_T0], ['train_fp32'], device='cuda')
        pytest.skip('no CUDA device: only the refusal was checked')
    results = bench([RETINANET_T0], ['train_fp32', 'deploy_cl_fp16'],
                    device='cuda', backbone_only=True)
    assert all(r.device == 'cuda' and r.times_ms for r in results)


def test_autocast_dtype_must_suit_the_device():
    with pytest.raises(InputError, match='deploy_cl_bf16'):
        bench([RETINANET_T0], ['deploy_cl_fp16'], device='cpu')


@pytest.mark.slow
def test_benchmark_tool_writes_results_table_parts_and_plot(tmp_path):
    out = tmp_path / 'run.csv'
    done = tool('tools/analysis/benchmark.py', MASKRCNN_T0, '--forms',
                'train_fp32', 'deploy_cl_fp32', '--shape', '64', '64',
                '--repeat', '2', '--warmup', '0', '--parts',
                '--detections', '3', '--threads', '1', '--out', str(out),
                '--plot', str(tmp_path / 'run.png'))
    assert done.returncode == 0, done.stderr[-3000:]
    rows = list(csv.DictReader(out.open()))
    assert [r['ran_as'] for r in rows] == ['train_fp32', 'deploy_cl_fp32']
    assert all(len(r['times_ms'].split()) == 2 and r['threads'] == '1'
               for r in rows)
    text = (tmp_path / 'run.txt').read_text()
    for line in ('command: ', 'cpu: ', 'torch ', 'load before: ',
                 'load after: ', 'rpn_head+proposals', 'deploy_cl_fp32'):
        assert line in text
    assert '--detections 3' in text
    parts = list(csv.DictReader((tmp_path / 'run_parts.csv').open()))
    assert {p['part'] for p in parts} >= {'backbone', 'neck', 'mask_head'}
    assert (tmp_path / 'run.png').read_bytes()[:4] == b'\x89PNG'
    assert (tmp_path / 'run_params.png').read_bytes()[:4] == b'\x89PNG'
    assert len(done.stdout.splitlines()) < 60  # no initialisation log
    # The CSV reads back to the same results (plots of an older run).
    from mmfasternet.analysis.benchmark import read_results
    results = read_results(str(out))
    assert [(r.ran_as, r.params, r.median_ms, len(r.times_ms))
            for r in results] == [
        (r['ran_as'], int(r['params']), float(r['median_ms']), 2)
        for r in rows]


@pytest.mark.slow
def test_benchmark_tool_leaves_out_a_precision_a_runtime_lacks(tmp_path):
    out = tmp_path / 'run.csv'
    done = tool('tools/analysis/benchmark.py', RETINANET_T0,
                '--backbone-only', '--backends', 'onnxruntime',
                '--precisions', 'fp32', 'bf16', '--shape', '64', '64',
                '--repeat', '1', '--warmup', '0', '--out', str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    rows = list(csv.DictReader(out.open()))
    assert [(r['ran_as'], r['precision']) for r in rows] == [
        ('onnxruntime_fp32', 'fp32')]
    assert ('left out: retinanet_fasternet_t0_coco onnxruntime_bf16: '
            '--precision bf16') in (tmp_path / 'run.txt').read_text()


def test_benchmark_refuses_a_form_that_is_not_one():
    with pytest.raises(InputError, match="'fast' is not a form name"):
        benchmark_specs([RETINANET_T0], ['fast'])


# --- the operator benchmark ----------------------------------------------

def test_operator_table_times_the_shipped_partial_conv():
    ops = operators(16)
    assert type(ops['PConv 3x3 (r=1/4)'][0]) is PartialConv3x3
    assert not ops['PConv 3x3 (r=1/4)'][0].deploy
    assert ops['PConv 3x3 (r=1/4) deploy'][0].deploy
    # multiply-adds per pixel by hand: 16*16*9, /16 groups, depthwise,
    # a quarter of the channels squared
    assert {k: v for k, (_, v) in ops.items()} == {
        'Conv 3x3': 2304, 'GConv 3x3 (16 groups)': 144, 'DWConv 3x3': 144,
        'PConv 3x3 (r=1/4)': 144, 'PConv 3x3 (r=1/4) deploy': 144}


def test_operator_benchmark_has_fp32_and_bf16_columns():
    rows = benchmark_operators([(16, 8, 8), (32, 4, 4)], repeat=1, warmup=0)
    assert len(rows) == 10
    for row in rows:
        for precision in ('fp32', 'bf16'):
            assert row[f'{precision}_median_ms'] > 0
            assert row[f'{precision}_gflops'] == pytest.approx(
                row['flops'] / row[f'{precision}_median_ms'] / 1e6)
    dense = [r for r in rows if r['operator'] == 'Conv 3x3']
    assert dense[0]['flops'] == 2304 * 64
    assert dense_peak(rows)['bf16'] == max(r['bf16_gflops'] for r in dense)


def test_runtime_conv_rows_run_each_precision_the_runtime_reports(tmp_path):
    from mmfasternet.analysis.runtime_convs import benchmark_runtime_convs
    from mmfasternet.deploy.precision import openvino_cpu_capabilities
    rows, left_out = benchmark_runtime_convs([(16, 8, 8)], str(tmp_path),
                                             repeat=1, warmup=0, threads=1)
    ran = {(r['operator'], r['runtime'], r['precision']): r['ran_as']
           for r in rows}
    for kernel in ('3x3', '1x1'):
        assert ran[(f'Conv {kernel}', 'onnxruntime', 'fp32')] == 'fp32'
        assert ran[(f'Conv {kernel}', 'onnxruntime', 'int8')] == 'int8'
        assert ran[(f'Conv {kernel}', 'openvino', 'fp32')] == 'fp32'
        assert ran[(f'Conv {kernel}', 'openvino', 'int8')] == 'int8'
    assert ['onnxruntime bf16'] == [
        line.split(':')[0] for line in left_out if 'onnxruntime' in line]
    if 'BF16' in openvino_cpu_capabilities():
        assert ran[('Conv 3x3', 'openvino', 'bf16')] == 'bf16'
    assert rows[0]['flops'] == 9 * 16 * 16 * 64
    # the int8 file is the quantizer's: the conv reads int8 weights
    import onnx
    int8 = onnx.load(str(tmp_path / 'conv3x3_16x8x8_int8.onnx'))
    kinds = [node.op_type for node in int8.graph.node]
    assert kinds.count('DequantizeLinear') >= 2 and 'Conv' in kinds
