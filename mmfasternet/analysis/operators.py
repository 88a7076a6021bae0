"""The paper's Table 1 on this machine: regular, group, depthwise and partial
3x3 convolutions at stage-like feature-map sizes, their FLOPs, latency and
achieved FLOP/s. The paper's point: PConv keeps a high FLOP/s where DWConv
does not, so its lower FLOPs turn into lower latency."""
import statistics
import time
from typing import Dict, List, Sequence, Tuple

import torch
from torch import nn

# (channels, height, width) of the four FasterNet-like stages in Table 1.
STAGE_SHAPES = ((96, 56, 56), (192, 28, 28), (384, 14, 14), (768, 7, 7))


class PartialConv(nn.Module):
    """3x3 conv on the first quarter of the channels; the rest untouched."""

    def __init__(self, channels: int, n_div: int = 4) -> None:
        super().__init__()
        self.conv_channels = channels // n_div
        self.conv = nn.Conv2d(self.conv_channels, self.conv_channels, 3, 1, 1,
                              bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        head, tail = torch.split(
            x, [self.conv_channels, x.shape[1] - self.conv_channels], dim=1)
        return torch.cat((self.conv(head), tail), dim=1)


def operators(channels: int) -> Dict[str, Tuple[nn.Module, int]]:
    """name -> (module, multiply-adds per output pixel)."""
    groups = 16
    return {
        'Conv 3x3': (nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
                     9 * channels * channels),
        'GConv 3x3 (16 groups)': (nn.Conv2d(channels, channels, 3, 1, 1,
                                            groups=groups, bias=False),
                                  9 * channels * channels // groups),
        'DWConv 3x3': (nn.Conv2d(channels, channels, 3, 1, 1,
                                 groups=channels, bias=False), 9 * channels),
        'PConv 3x3 (r=1/4)': (PartialConv(channels),
                              9 * (channels // 4)**2),
    }


def benchmark_operators(shapes: Sequence[Tuple[int, int, int]] = STAGE_SHAPES,
                        repeat: int = 50, batch: int = 1,
                        warmup: int = 5) -> List[dict]:
    """Median latency of each operator at each shape, interleaved."""
    rows = []
    with torch.no_grad():
        for channels, height, width in shapes:
            x = torch.randn(batch, channels, height, width)
            ops = operators(channels)
            times: Dict[str, List[float]] = {name: [] for name in ops}
            for name, (module, _) in ops.items():
                module.eval()
                for _ in range(warmup):
                    module(x)
            for _ in range(repeat):
                for name, (module, _) in ops.items():
                    start = time.perf_counter()
                    module(x)
                    times[name].append(time.perf_counter() - start)
            for name, (_, per_pixel) in ops.items():
                flops = per_pixel * height * width * batch
                median = statistics.median(times[name])
                rows.append(dict(
                    operator=name, channels=channels, height=height,
                    width=width, batch=batch, flops=flops,
                    median_ms=median * 1e3,
                    achieved_gflops=flops / median / 1e9))
    return rows


def format_operator_rows(rows: Sequence[dict]) -> str:
    lines = [f'{"operator":<24}{"shape":>14}{"MFLOPs":>10}{"median ms":>11}'
             f'{"GFLOP/s":>10}']
    for r in rows:
        shape = f'{r["channels"]}x{r["height"]}x{r["width"]}'
        lines.append(f'{r["operator"]:<24}{shape:>14}{r["flops"] / 1e6:>10.1f}'
                     f'{r["median_ms"]:>11.3f}{r["achieved_gflops"]:>10.1f}')
    return '\n'.join(lines)
