"""The arithmetic precision an exported model runs in, asked of the runtime
and read back from it.

OpenVINO's CPU plugin compiles an fp32 model in bf16 by itself on CPUs with
bf16 instructions (AVX-512 bf16, AMX) unless told otherwise; ONNX Runtime's
CPU provider runs an fp32 graph in fp32. So every OpenVINO compile here
states the precision it means (``INFERENCE_PRECISION_HINT``), and the
precision that ran is the one the compiled model reports, not the one asked.
"""
from typing import Optional

from ..errors import InputError

PRECISIONS = ('fp32', 'bf16')
DEFAULT_PRECISION = 'fp32'  # what an fp32 file's name promises

# Our names -> OpenVINO's element type names, and back.
_OPENVINO_TYPES = {'fp32': 'f32', 'bf16': 'bf16'}
_FROM_OPENVINO = {'f32': 'fp32', 'float32': 'fp32', 'bf16': 'bf16',
                  'bfloat16': 'bf16', 'f16': 'fp16', 'float16': 'fp16'}


def openvino_cpu_capabilities() -> list:
    """What OpenVINO's CPU plugin says this CPU can compute in
    (``OPTIMIZATION_CAPABILITIES``: FP32, BF16, INT8, ...)."""
    import openvino as ov
    return list(ov.Core().get_property('CPU', 'OPTIMIZATION_CAPABILITIES'))


def check_precision(backend: str, precision: Optional[str]) -> str:
    """``precision`` (default fp32) if ``backend`` can run it on this CPU;
    otherwise an :class:`InputError` naming the option and the fix. bf16 is
    never emulated: a CPU without bf16 instructions is refused."""
    precision = precision or DEFAULT_PRECISION
    if precision not in PRECISIONS:
        raise InputError(f'--precision {precision}: choose one of '
                         f'{", ".join(PRECISIONS)}.')
    if precision == 'fp32':
        return precision
    if backend != 'openvino':
        raise InputError(f'--precision {precision}: ONNX Runtime\'s CPU '
                         f'provider runs an fp32 file in fp32 only; use '
                         f'--backend openvino for {precision}.')
    if 'BF16' not in openvino_cpu_capabilities():
        raise InputError(f'--precision {precision}: this CPU has no bf16 '
                         f'instructions (OpenVINO would emulate them, '
                         f'slower than fp32); use --precision fp32.')
    return precision


def openvino_config(precision: str, num_threads: Optional[int]) -> dict:
    """``compile_model`` properties that ask for ``precision``."""
    config = {'INFERENCE_PRECISION_HINT': _OPENVINO_TYPES[precision]}
    if num_threads:
        config['INFERENCE_NUM_THREADS'] = num_threads
    return config


def openvino_compiled_precision(compiled_model) -> str:
    """The precision a compiled OpenVINO model computes in (fp32, bf16,
    fp16), as the model itself reports it."""
    element_type = compiled_model.get_property('INFERENCE_PRECISION_HINT')
    name = getattr(element_type, 'get_type_name', lambda: str(element_type))()
    return _FROM_OPENVINO.get(name, name)
