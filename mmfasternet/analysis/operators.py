"""The paper's Table 1 on this machine: regular, group, depthwise and partial
3x3 convolutions at stage-like feature-map sizes, their FLOPs, latency and
achieved FLOP/s, in fp32 and under bf16 autocast. The partial conv is the
shipped :class:`PartialConv3x3`, in its training path (split, conv,
concatenate) and its deploy path (copy, conv into the copy). The paper's
point: PConv keeps a high FLOP/s where DWConv does not, so its lower FLOPs
turn into lower latency. The dense 3x3 conv's FLOP/s is the practical peak a
whole model can be held against."""
import statistics
import time
from typing import Dict, List, Sequence, Tuple

import torch
from torch import nn

from mmfasternet.inference import inference_autocast
from mmfasternet.models.backbones.fasternet import PartialConv3x3

# (channels, height, width) of the four FasterNet-like stages in Table 1.
STAGE_SHAPES = ((96, 56, 56), (192, 28, 28), (384, 14, 14), (768, 7, 7))
DENSE = 'Conv 3x3'
PRECISIONS = ('fp32', 'bf16')


def operators(channels: int) -> Dict[str, Tuple[nn.Module, int]]:
    """name -> (module, multiply-adds per output pixel, by hand count)."""
    groups = 16
    deploy = PartialConv3x3(channels)
    deploy.switch_to_deploy()
    return {
        DENSE: (nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
                9 * channels * channels),
        'GConv 3x3 (16 groups)': (nn.Conv2d(channels, channels, 3, 1, 1,
                                            groups=groups, bias=False),
                                  9 * channels * channels // groups),
        'DWConv 3x3': (nn.Conv2d(channels, channels, 3, 1, 1,
                                 groups=channels, bias=False), 9 * channels),
        'PConv 3x3 (r=1/4)': (PartialConv3x3(channels),
                              9 * (channels // 4)**2),
        'PConv 3x3 (r=1/4) deploy': (deploy, 9 * (channels // 4)**2),
    }


def benchmark_operators(shapes: Sequence[Tuple[int, int, int]] = STAGE_SHAPES,
                        repeat: int = 50, batch: int = 1, warmup: int = 5,
                        channels_last: bool = False) -> List[dict]:
    """Median latency of each operator at each shape in fp32 and bf16
    autocast, all interleaved; one row per operator and shape."""
    rows = []
    memory_format = torch.channels_last if channels_last \
        else torch.contiguous_format
    with torch.no_grad():
        for channels, height, width in shapes:
            x = torch.randn(batch, channels, height, width).to(
                memory_format=memory_format)
            ops = {name: (module.eval().to(memory_format=memory_format),
                          per_pixel)
                   for name, (module, per_pixel) in operators(
                       channels).items()}
            runs = [(name, precision) for name in ops
                    for precision in PRECISIONS]
            times: Dict[tuple, List[float]] = {run: [] for run in runs}
            for index in range(warmup + repeat):
                for name, precision in runs:
                    with inference_autocast('cpu', precision == 'bf16'):
                        start = time.perf_counter()
                        ops[name][0](x)
                        elapsed = time.perf_counter() - start
                    if index >= warmup:
                        times[(name, precision)].append(elapsed)
            for name, (_, per_pixel) in ops.items():
                flops = per_pixel * height * width * batch
                row = dict(operator=name, channels=channels, height=height,
                           width=width, batch=batch,
                           layout='channels_last' if channels_last
                           else 'nchw', flops=flops)
                for precision in PRECISIONS:
                    median = statistics.median(times[(name, precision)])
                    row[f'{precision}_median_ms'] = median * 1e3
                    row[f'{precision}_gflops'] = flops / median / 1e9
                rows.append(row)
    return rows


def dense_peak(rows: Sequence[dict]) -> Dict[str, float]:
    """The dense 3x3 conv's highest achieved GFLOP/s per precision: the
    practical peak of this machine for convolutions."""
    dense = [r for r in rows if r['operator'] == DENSE]
    return {p: max(r[f'{p}_gflops'] for r in dense) for p in PRECISIONS}


def format_operator_rows(rows: Sequence[dict]) -> str:
    lines = [f'{"operator":<28}{"shape":>12}{"MFLOPs":>9}'
             f'{"fp32 ms":>10}{"GFLOP/s":>9}{"bf16 ms":>10}{"GFLOP/s":>9}']
    for r in rows:
        shape = f'{r["channels"]}x{r["height"]}x{r["width"]}'
        lines.append(
            f'{r["operator"]:<28}{shape:>12}{r["flops"] / 1e6:>9.1f}'
            f'{r["fp32_median_ms"]:>10.3f}{r["fp32_gflops"]:>9.1f}'
            f'{r["bf16_median_ms"]:>10.3f}{r["bf16_gflops"]:>9.1f}')
    peak = dense_peak(rows)
    lines.append(f'dense 3x3 conv, best achieved: {peak["fp32"]:.1f} '
                 f'GFLOP/s fp32, {peak["bf16"]:.1f} GFLOP/s bf16 autocast '
                 f'({rows[0]["layout"]}, batch {rows[0]["batch"]})')
    return '\n'.join(lines)
