"""INT8 post-training quantization (mmfasternet.deploy.quantize and
tools/deployment/quantize.py): convolutions int8, post-processing float,
calibration on the training split through the test pipeline, the quantized
file run like any export in ONNX Runtime and OpenVINO."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from mmengine.config import Config

from mmfasternet.datasets import make_ade_dataset, make_coco_dataset
from mmfasternet.deploy import build_backend_model
from mmfasternet.deploy.backends import read_metadata
from mmfasternet.deploy.convert import pytorch2onnx
from mmfasternet.deploy.quantize import (calibration_dataset,
                                         calibration_images, quantize_file,
                                         quantize_onnx)
from mmfasternet.errors import InputError
from mmfasternet.models import build_model

REPO = Path(__file__).parents[1]
MASKRCNN = 'configs/demo/maskrcnn_fasternet_t0_synthetic.py'
FPN = 'configs/demo/fpn_fasternet_t0_synthetic.py'
SHAPE = (256, 256)  # the demo configs' test pipeline resizes to 256


def config_on(path: str, root: str) -> Config:
    cfg = Config.fromfile(str(REPO / path))
    for split in ('train', 'val', 'test'):
        cfg[f'{split}_dataloader'].dataset.data_root = root + '/'
    return cfg


@pytest.fixture(scope='module')
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp('quantize')


@pytest.fixture(scope='module')
def coco(work) -> str:
    return make_coco_dataset(str(work / 'coco'), num_train=4, num_val=2,
                             size=SHAPE[0])


@pytest.fixture(scope='module')
def fpn_files(work, tmp_path_factory):
    """(cfg, checkpoint, fp32 export, int8 file, report) of the demo
    Semantic FPN on a generated ADE set, random weights."""
    root = make_ade_dataset(str(work / 'ade'), num_train=4, num_val=2,
                            size=SHAPE[0])
    cfg = config_on(FPN, root)
    torch.manual_seed(0)
    checkpoint = str(work / 'fpn.pth')
    torch.save({'state_dict': build_model(cfg, None).state_dict()},
               checkpoint)
    fp32 = str(work / 'fpn.onnx')
    pytorch2onnx(cfg, checkpoint, fp32, shape=SHAPE, config_name=FPN)
    int8 = str(work / 'fpn_int8.onnx')
    report = quantize_onnx(cfg, fp32, int8, num_images=4)
    return cfg, checkpoint, fp32, int8, report


def producers(model) -> dict:
    return {out: node for node in model.graph.node for out in node.output}


def test_convolutions_are_int8_and_the_rest_stays_float(fpn_files):
    _, _, fp32, int8, report = fpn_files
    model = onnx.load(int8)
    made_by = producers(model)
    initializers = {i.name: i for i in model.graph.initializer}
    convs = [n for n in model.graph.node if n.op_type == 'Conv']
    assert convs and report['quantized_nodes'] == len(convs)
    for conv in convs:
        weight = made_by[conv.input[1]]
        assert weight.op_type == 'DequantizeLinear'
        assert initializers[weight.input[0]].data_type == onnx.TensorProto.INT8
        assert made_by[conv.input[0]].op_type == 'DequantizeLinear'
    # The resizes and the output are computed on float values.
    for node in model.graph.node:
        if node.op_type in ('Resize', 'Softmax', 'NonMaxSuppression',
                            'RoiAlign', 'TopK', 'Exp'):
            assert all(made_by.get(i) is None or made_by[i].op_type !=
                       'QuantizeLinear' for i in node.input), node.name
    # int8 weights: the file shrinks to about a quarter.
    assert report['file_bytes'] < 0.4 * report['fp32_file_bytes']
    metadata = read_metadata(int8)
    assert metadata['precision'] == 'int8'
    assert metadata['calibration']['split'] == 'train'
    assert metadata['calibration']['images'] == 4
    assert metadata['task'] == read_metadata(fp32)['task']


@pytest.mark.parametrize('backend', ['onnxruntime', 'openvino'])
def test_int8_segmentor_runs_and_agrees_with_fp32(fpn_files, backend):
    cfg, _, fp32, int8, _ = fpn_files
    image = next(calibration_images(cfg, 1, SHAPE))
    image = torch.from_numpy(image)
    quantized = build_backend_model(cfg, int8, backend)
    assert quantized.precision == 'int8'
    reference = build_backend_model(cfg, fp32, backend)
    logits = quantized(image, mode='tensor')[0][0]
    expected = reference(image, mode='tensor')[0][0]
    assert not torch.equal(logits, expected)  # int8 arithmetic did run
    agree = (logits.argmax(1) == expected.argmax(1)).float().mean()
    assert agree > 0.95


def test_calibration_reads_the_training_split_through_the_test_pipeline(
        coco):
    cfg = config_on(MASKRCNN, coco)
    dataset = calibration_dataset(cfg)
    assert dataset.ann_file.endswith('instances_train2017.json')
    steps = [type(t).__name__ for t in dataset.pipeline.transforms]
    assert 'RandomFlip' not in steps  # the training pipeline's
    assert steps == [t['type'] for t in cfg.test_dataloader.dataset.pipeline]
    images = list(calibration_images(cfg, 3, SHAPE))
    assert len(images) == 3
    assert all(i.shape == (1, 3, *SHAPE) and i.dtype == np.float32
               for i in images)
    assert abs(float(images[0].mean())) < 3  # normalised, not raw pixels
    assert not np.array_equal(images[0], images[1])


def test_more_calibration_images_than_the_split_has_is_refused(coco):
    with pytest.raises(InputError, match='--calib-images 9: the training '
                       'split has 4 images'):
        next(calibration_images(config_on(MASKRCNN, coco), 9))


def test_quantize_refuses_to_overwrite_its_input_or_requantize(fpn_files):
    cfg, _, fp32, int8, _ = fpn_files
    with pytest.raises(InputError, match='is the input file'):
        quantize_onnx(cfg, fp32, fp32, num_images=1)
    with pytest.raises(InputError, match='already quantized'):
        quantize_onnx(cfg, int8, int8 + '.again.onnx', num_images=1)
    with pytest.raises(InputError, match='--exclude nothing: no such node'):
        quantize_onnx(cfg, fp32, fp32 + '.x.onnx', num_images=1,
                      exclude=['nothing'])


def test_excluded_convolution_keeps_float_weights(fpn_files, work):
    cfg, _, fp32, _, _ = fpn_files
    last = [n for n in onnx.load(fp32).graph.node if n.op_type == 'Conv'][-1]
    out = str(work / 'fpn_int8_excluded.onnx')
    report = quantize_onnx(cfg, fp32, out, num_images=1,
                           exclude=[last.name])
    model = onnx.load(out)
    made_by = producers(model)
    [kept] = [n for n in model.graph.node if n.name == last.name]
    assert made_by.get(kept.input[1]) is None  # an fp32 initializer
    assert read_metadata(out)['calibration']['kept_float'] == [last.name]
    assert report['float_nodes'] > 0


@pytest.mark.slow
def test_quantize_tool_exports_a_checkpoint_then_quantizes_it(coco, work):
    cfg = config_on(MASKRCNN, coco)
    torch.manual_seed(0)
    checkpoint = str(work / 'maskrcnn.pth')
    torch.save({'state_dict': build_model(cfg, None).state_dict()},
               checkpoint)
    out = work / 'maskrcnn_int8.onnx'
    result = subprocess.run(
        [sys.executable, 'tools/deployment/quantize.py', MASKRCNN,
         checkpoint, '--out', str(out), '--calib-images', '2',
         '--cfg-options', f'train_dataloader.dataset.data_root={coco}/'],
        cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'calibrated on 2 training images' in result.stdout
    assert (work / 'maskrcnn_int8_fp32.onnx').is_file()
    metadata = read_metadata(str(out))
    assert metadata['precision'] == 'int8'
    assert metadata['input_shape'] == [256, 256]  # the test pipeline's
    # Box decoding and NMS stay float: both NonMaxSuppression ops are fed
    # by float arithmetic, not by a QuantizeLinear.
    model = onnx.load(str(out))
    made_by = producers(model)
    nms = [n for n in model.graph.node if n.op_type == 'NonMaxSuppression']
    assert len(nms) == 2
    for node in nms:
        assert all(made_by[i].op_type not in ('QuantizeLinear',
                                              'DequantizeLinear')
                   for i in node.input[:2])


def test_products_of_two_run_time_tensors_stay_float(tmp_path):
    """RTMDet-Ins applies each instance's predicted kernels with MatMul:
    no weights there, and in int8 they cost the trained demo 0.9-1.0 mask
    points; they stay float, and the file says so."""
    cfg = Config.fromfile(
        str(REPO / 'configs/demo/rtmdet-ins_fasternet_t0_synthetic.py'))
    fp32 = str(tmp_path / 'ins.onnx')
    pytorch2onnx(cfg, None, fp32, shape=(128, 128))
    out = str(tmp_path / 'ins_int8.onnx')
    image = np.random.default_rng(0).standard_normal(
        (1, 3, 128, 128)).astype(np.float32)
    quantize_file(fp32, out, [image])
    graph = onnx.load(out).graph
    dequantized = {n.output[0] for n in graph.node
                   if n.op_type == 'DequantizeLinear'}
    products = [n for n in graph.node if n.op_type == 'MatMul']
    assert len(products) == 3
    assert not any(set(n.input) & dequantized for n in products)
    kept = read_metadata(out)['calibration']['kept_float']
    assert sorted(kept) == sorted(n.name for n in products)
    convs = [n for n in graph.node if n.op_type == 'Conv']
    assert all(set(n.input) & dequantized for n in convs)
