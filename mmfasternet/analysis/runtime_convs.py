"""Dense 3x3 and 1x1 convolutions in the runtimes that run the exported
models (ONNX Runtime, OpenVINO), in fp32, bf16 and int8: the practical peak
of each precision that a whole exported model's achieved rate is held
against (``tools/analysis/benchmark_operators.py``).

Each convolution is exported alone (TorchScript exporter, as the models
are) and its int8 form written by the models' own quantizer
(:func:`mmfasternet.deploy.quantize.quantize_file`: QDQ, per-channel int8
weights, uint8 activations), calibrated on the timed input. A precision
that the runtime or the CPU lacks is left out with its reason, as in the
model benchmark."""
import os.path as osp
import statistics
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from ..deploy.backends import Session
from ..deploy.precision import check_precision
from ..deploy.quantize import quantize_file
from ..errors import InputError

KERNELS = (3, 1)
RUNTIMES = ('onnxruntime', 'openvino')
PRECISIONS = ('fp32', 'bf16', 'int8')


def conv_files(channels: int, height: int, width: int, kernel: int,
               work_dir: str) -> Dict[str, str]:
    """fp32 and int8 ONNX files of one dense ``kernel`` x ``kernel`` conv
    (``channels`` in and out, stride 1, same padding, no bias)."""
    stem = osp.join(work_dir, f'conv{kernel}x{kernel}_{channels}x{height}'
                    f'x{width}')
    files = dict(fp32=stem + '.onnx', int8=stem + '_int8.onnx')
    if not osp.isfile(files['fp32']):
        conv = nn.Conv2d(channels, channels, kernel, 1, kernel // 2,
                         bias=False).eval()
        torch.onnx.export(conv, torch.randn(1, channels, height, width),
                          files['fp32'], input_names=['image'],
                          output_names=['out'], opset_version=17,
                          dynamo=False)
    if not osp.isfile(files['int8']):
        images = [np.random.default_rng(seed).standard_normal(
            (1, channels, height, width), dtype=np.float32)
            for seed in range(4)]
        quantize_file(files['fp32'], files['int8'], images, split='random')
    return files


def _median_ms(session: Session, image: torch.Tensor, repeat: int,
               warmup: int) -> float:
    times = []
    for index in range(warmup + repeat):
        start = time.perf_counter()
        session.run(image)
        if index >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def benchmark_runtime_convs(shapes: Sequence[Tuple[int, int, int]],
                            work_dir: str,
                            runtimes: Sequence[str] = RUNTIMES,
                            precisions: Sequence[str] = PRECISIONS,
                            repeat: int = 50, warmup: int = 5,
                            threads: Optional[int] = None
                            ) -> Tuple[List[dict], List[str]]:
    """One row per convolution, shape, runtime and precision (median ms,
    achieved GFLOP/s, the precision the runtime reported), and one line per
    combination left out, with its reason."""
    rows, left_out = [], []
    for runtime in runtimes:
        for precision in precisions:
            try:
                check_precision(runtime, None if precision == 'int8'
                                else precision)
            except InputError as error:
                left_out.append(f'{runtime} {precision}: {error}')
    refused = {line.split(':')[0] for line in left_out}
    for channels, height, width in shapes:
        image = torch.randn(1, channels, height, width)
        for kernel in KERNELS:
            files = conv_files(channels, height, width, kernel, work_dir)
            flops = kernel * kernel * channels * channels * height * width
            for runtime in runtimes:
                for precision in precisions:
                    if f'{runtime} {precision}' in refused:
                        continue
                    int8 = precision == 'int8'
                    session = Session(files['int8' if int8 else 'fp32'],
                                      runtime, threads,
                                      None if int8 else precision)
                    median = _median_ms(session, image, repeat, warmup)
                    rows.append(dict(
                        operator=f'Conv {kernel}x{kernel}', channels=channels,
                        height=height, width=width, runtime=runtime,
                        precision=precision, ran_as=session.precision,
                        flops=flops, median_ms=median,
                        gflops=flops / median / 1e6))
    return rows, left_out


def runtime_peaks(rows: Sequence[dict]) -> Dict[Tuple[str, str, str], float]:
    """(operator, runtime, precision) -> best achieved GFLOP/s."""
    peaks: Dict[Tuple[str, str, str], float] = {}
    for row in rows:
        key = (row['operator'], row['runtime'], row['precision'])
        peaks[key] = max(peaks.get(key, 0.), row['gflops'])
    return peaks


def format_runtime_rows(rows: Sequence[dict], left_out: Sequence[str]
                        ) -> str:
    lines = [f'{"operator":<10}{"shape":>12}{"runtime":>13}{"asked":>7}'
             f'{"ran as":>8}{"MFLOPs":>9}{"ms":>9}{"GFLOP/s":>9}']
    for r in rows:
        shape = f'{r["channels"]}x{r["height"]}x{r["width"]}'
        lines.append(
            f'{r["operator"]:<10}{shape:>12}{r["runtime"]:>13}'
            f'{r["precision"]:>7}{r["ran_as"]:>8}{r["flops"] / 1e6:>9.1f}'
            f'{r["median_ms"]:>9.3f}{r["gflops"]:>9.1f}')
    for (operator, runtime, precision), peak in runtime_peaks(rows).items():
        lines.append(f'best {operator} in {runtime} {precision}: '
                     f'{peak:.1f} GFLOP/s')
    lines += [f'left out: {line}' for line in left_out]
    return '\n'.join(lines)
