"""mmcv's RoIAlign against FastRoIAlign on a Mask R-CNN's real shape
(``tools/analysis/benchmark_roi_align.py``).

:func:`run` builds mmdet's ``SingleRoIExtractor`` (4 FPN levels, strides 4-32,
256 channels of a 800x1280 image) once with each RoI layer and times the bbox
head's call (1,000 proposals of mixed sizes, 7x7, ``sampling_ratio=0``) and the
mask head's (100 RoIs, 14x14), fp32 and bf16 features, with
``torch.utils.benchmark``; :func:`write` saves ``OUT.csv`` and ``OUT.txt`` (the
table under the command, machine, date and load).
"""
import csv
import os
from typing import Dict, List

import torch
from torch.utils.benchmark import Timer

STRIDES = (4, 8, 16, 32)


def mixed_rois(num: int, height: int, width: int,
               generator: torch.Generator) -> torch.Tensor:
    """``num`` RoIs ``(0, x1, y1, x2, y2)``: sides log-uniform in 8..800
    pixels, aspect ratio 0.5..2, centres anywhere, clipped to the image (as
    RPN proposals are), so they spread over all four FPN levels."""
    side = torch.exp(
        torch.empty(num).uniform_(2.08, 6.68, generator=generator))
    aspect = torch.exp(
        torch.empty(num).uniform_(-0.69, 0.69, generator=generator))
    box_w, box_h = side * aspect.sqrt(), side / aspect.sqrt()
    centre_x = torch.rand(num, generator=generator) * width
    centre_y = torch.rand(num, generator=generator) * height
    boxes = torch.stack([
        (centre_x - box_w / 2).clamp(0, width),
        (centre_y - box_h / 2).clamp(0, height),
        (centre_x + box_w / 2).clamp(0, width),
        (centre_y + box_h / 2).clamp(0, height)
    ], 1)
    return torch.cat([torch.zeros(num, 1), boxes], 1)


def build_extractor(layer: str, output_size: int) -> torch.nn.Module:
    """mmdet's SingleRoIExtractor with ``layer`` ('RoIAlign' or
    'FastRoIAlign') as its RoI layer."""
    from mmdet.registry import MODELS

    import mmfasternet  # noqa: F401  registers FastRoIAlign, fallbacks
    return MODELS.build(
        dict(type='SingleRoIExtractor',
             roi_layer=dict(type=layer, output_size=output_size,
                            sampling_ratio=0),
             out_channels=256,
             featmap_strides=list(STRIDES)))


def run(threads: int, min_run_time: float) -> List[Dict[str, str]]:
    torch.set_num_threads(threads)
    generator = torch.Generator().manual_seed(0)
    height, width = 800, 1280
    feats = tuple(
        torch.randn(1, 256, height // s, width // s, generator=generator)
        for s in STRIDES)
    rows = []
    for head, num, size in (('bbox', 1000, 7), ('mask', 100, 14)):
        rois = mixed_rois(num, height, width, generator)
        for dtype in (torch.float32, torch.bfloat16):
            inputs = tuple(f.to(dtype) for f in feats)
            times = {}
            for layer in ('RoIAlign', 'FastRoIAlign'):
                extractor = build_extractor(layer, size)
                with torch.no_grad():
                    out = extractor(inputs, rois)
                    if layer == 'RoIAlign':
                        reference = out.float()
                    error = (out.float() - reference).abs().max().item()
                    timer = Timer('extractor(inputs, rois)',
                                  globals=dict(extractor=extractor,
                                               inputs=inputs, rois=rois),
                                  num_threads=threads)
                    times[layer] = timer.blocked_autorange(
                        min_run_time=min_run_time).median * 1e3
                rows.append(
                    dict(head=head, rois=str(num), output=f'{size}x{size}',
                         dtype=str(dtype).replace('torch.', ''), layer=layer,
                         median_ms=f'{times[layer]:.1f}',
                         speedup=f"{times['RoIAlign'] / times[layer]:.2f}",
                         max_abs_diff_vs_mmcv=f'{error:.2e}'))
    return rows


def write(rows: List[Dict[str, str]], out: str, header_lines: List[str]
          ) -> str:
    os.makedirs(os.path.dirname(out) or '.', exist_ok=True)
    with open(out + '.csv', 'w', newline='') as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    header = list(rows[0])
    lines = header_lines + [
        f'800x1280 image, 256 channels, FPN strides {STRIDES}; mmdet '
        f'SingleRoIExtractor, sampling_ratio=0', '',
        ' | '.join(header), ' | '.join('---' for _ in header)
    ] + [' | '.join(row[k] for k in header) for row in rows]
    text = '\n'.join(lines) + '\n'
    with open(out + '.txt', 'w') as file:
        file.write(text)
    return text
