"""The precision an exported model runs in is asked of the runtime and read
back from it: fp32 unless bf16 is asked, bf16 only where the CPU has bf16
instructions, and never bf16 in ONNX Runtime's CPU provider."""
import pytest
import torch

from mmfasternet.deploy import precision as runtime_precision
from mmfasternet.deploy.backends import Session
from mmfasternet.errors import InputError

CPU_HAS_BF16 = 'BF16' in runtime_precision.openvino_cpu_capabilities()


@pytest.fixture(scope='module')
def conv_onnx(tmp_path_factory) -> str:
    """A tiny fp32 convolution network as an .onnx file."""
    path = str(tmp_path_factory.mktemp('precision') / 'conv.onnx')
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1),
                                torch.nn.ReLU(), torch.nn.Conv2d(8, 4, 1))
    torch.onnx.export(model.eval(), torch.randn(1, 3, 16, 16), path,
                      dynamo=False, input_names=['image'])
    return path


@pytest.mark.parametrize('backend', ['onnxruntime', 'openvino'])
def test_fp32_file_runs_in_fp32_unless_asked_otherwise(conv_onnx, backend):
    # On CPUs with bf16 instructions OpenVINO's own choice would be bf16.
    assert Session(conv_onnx, backend).precision == 'fp32'
    assert Session(conv_onnx, backend, precision='fp32').precision == 'fp32'


@pytest.mark.skipif(not CPU_HAS_BF16, reason='this CPU has no bf16 '
                    'instructions (OpenVINO would refuse or emulate)')
def test_openvino_bf16_is_compiled_when_asked(conv_onnx):
    session = Session(conv_onnx, 'openvino', precision='bf16')
    assert session.precision == 'bf16'
    image = torch.randn(1, 3, 16, 16)
    fp32 = Session(conv_onnx, 'openvino').run(image)[0]
    bf16 = session.run(image)[0]
    # bf16 keeps 8 bits of mantissa: close to fp32, but not equal to it.
    assert not torch.equal(fp32, bf16)
    assert (bf16 - fp32).abs().max() < 0.05 * fp32.abs().max()


def test_bf16_on_a_cpu_without_bf16_instructions_is_refused(
        conv_onnx, monkeypatch):
    monkeypatch.setattr(runtime_precision, 'openvino_cpu_capabilities',
                        lambda: ['FP32', 'INT8'])
    with pytest.raises(InputError, match=r'--precision bf16: this CPU has '
                       r'no bf16 instructions.*--precision fp32'):
        Session(conv_onnx, 'openvino', precision='bf16')


def test_bf16_in_onnxruntime_is_refused_with_the_backend_that_has_it(
        conv_onnx):
    with pytest.raises(InputError, match='--precision bf16.*--backend '
                       'openvino'):
        Session(conv_onnx, 'onnxruntime', precision='bf16')


def test_unknown_precision_lists_the_choices(conv_onnx):
    with pytest.raises(InputError, match='--precision fp8: choose one of '
                       'fp32, bf16'):
        Session(conv_onnx, 'openvino', precision='fp8')
