"""RoIAlign over all RoIs at once, on every CPU core.

mmcv's CPU ``RoIAlign`` walks RoIs, channels and bins one at a time on a
single thread (one bbox-head call of a Mask R-CNN at 800x1280, 1,000
RoIs, took 529 ms in an early measurement, CPU not recorded;
tools/analysis/benchmark_roi_align.py times both layers). This
version gives the same values (float32 arithmetic in mmcv's order for the
sample positions, mmcv's bilinear boundary rules) with two vectorised steps:

1. For every RoI, bin and sample point, compute the four neighbouring pixel
   rows and their bilinear weights divided by the bin's sample count
   (``sampling_ratio=0`` gives each RoI its own adaptive grid,
   ``ceil(roi_size / output_size)``; the bins are variable-length bags).
2. ``F.embedding_bag(mode='sum', per_sample_weights=...)`` gathers those
   rows from the feature map seen as a ``(N*H*W, C)`` table and sums each
   bag: a weighted gather over contiguous channel vectors, parallel over
   bags, with autograd for the features (so it trains).

RoIs that share a sample grid are built together as regular tensors, then
their entries are put back in RoI order. Half-precision inputs (bf16/fp16)
are computed in float32 and the output is cast back to the input dtype.
Channels-last inputs skip the layout copy; the output is channels-last.
"""
from typing import List, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.modules.utils import _pair

# Table entries (4 per sample point) per embedding_bag call: bounds the index
# and weight tensors for huge RoIs on a fine level.
MAX_ENTRIES_PER_CHUNK = 1 << 22


def _sampling_grid(rois: torch.Tensor, output_size: Tuple[int, int],
                   spatial_scale: float, sampling_ratio: int,
                   aligned: bool):
    """Per RoI: start (y, x), bin size (h, w) and sample grid (gh, gw), in
    float32 as mmcv computes them."""
    finite = torch.isfinite(rois[:, 1:]).all(1)
    if not bool(finite.all()):
        bad = (~finite).nonzero()[:, 0].tolist()
        raise ValueError(f'FastRoIAlign: {len(bad)} RoI(s) with non-finite '
                         f'coordinates (first at index {bad[0]}: '
                         f'{rois[bad[0]].tolist()}); the boxes that feed '
                         f'it overflowed or are NaN')
    scale = torch.tensor(spatial_scale, dtype=torch.float32)
    offset = 0.5 if aligned else 0.0
    boxes = rois[:, 1:].float() * scale - offset
    start_x, start_y, end_x, end_y = boxes.unbind(1)
    roi_w = end_x - start_x
    roi_h = end_y - start_y
    if aligned:
        if bool(((roi_w < 0) | (roi_h < 0)).any()):
            raise ValueError('FastRoIAlign: RoIs with x2 < x1 or y2 < y1 '
                             'cannot be aligned; fix the boxes')
    else:  # mmcv's legacy mode: every RoI at least one pixel
        roi_w = roi_w.clamp(min=1.)
        roi_h = roi_h.clamp(min=1.)
    out_h, out_w = output_size
    bin_h = roi_h / out_h
    bin_w = roi_w / out_w
    if sampling_ratio > 0:
        grid_h = torch.full_like(bin_h, sampling_ratio, dtype=torch.long)
        grid_w = torch.full_like(bin_w, sampling_ratio, dtype=torch.long)
    else:
        grid_h = torch.ceil(bin_h).long()
        grid_w = torch.ceil(bin_w).long()
    return start_y, start_x, bin_h, bin_w, grid_h, grid_w


def _axis_neighbours(coord: torch.Tensor, size: int):
    """mmcv's bilinear rules along one axis: (low, high, weight of low,
    weight of high, inside mask) for sample coordinates ``coord``."""
    inside = (coord >= -1.0) & (coord <= size)
    coord = coord.clamp(min=0)
    low = coord.long()  # coord >= 0, so truncation is floor
    at_edge = low >= size - 1
    low = torch.where(at_edge, torch.full_like(low, size - 1), low)
    high = torch.where(at_edge, low, low + 1)
    coord = torch.where(at_edge, low.float(), coord)
    frac = coord - low.float()
    return low, high, 1. - frac, frac, inside


def _group_bags(start_y, start_x, bin_h, bin_w, batch, grid: Tuple[int, int],
                height: int, width: int, output_size: Tuple[int, int]):
    """Rows and weights for RoIs that share one sample grid ``(gh, gw)``:
    ``(R, out_h, out_w, gh, gw, 4)`` each, so that every output bin is a
    bag of ``gh * gw * 4`` consecutive entries."""
    grid_h, grid_w = grid
    out_h, out_w = output_size

    def coords(start, size, bins, samples):
        # mmcv: start + p * bin + (i + .5f) * bin / grid, in float32
        p = torch.arange(bins, dtype=torch.float32)[None, :, None]
        i = torch.arange(samples, dtype=torch.float32)[None, None, :]
        return (start[:, None, None] + p * size[:, None, None]) + (
            (i + .5) * size[:, None, None]) / float(samples)

    y_low, y_high, hy, ly, y_in = _axis_neighbours(
        coords(start_y, bin_h, out_h, grid_h), height)
    x_low, x_high, hx, lx, x_in = _axis_neighbours(
        coords(start_x, bin_w, out_w, grid_w), width)

    def along_y(t):  # (R, out_h, gh) -> (R, out_h, 1, gh, 1)
        return t[:, :, None, :, None]

    def along_x(t):  # (R, out_w, gw) -> (R, 1, out_w, 1, gw)
        return t[:, None, :, None, :]

    base = batch[:, None, None, None, None] * (height * width)
    y_low, y_high = (along_y(y_low) * width + base,
                     along_y(y_high) * width + base)
    x_low, x_high = along_x(x_low), along_x(x_high)
    rows = torch.stack(
        torch.broadcast_tensors(y_low + x_low, y_low + x_high,
                                y_high + x_low, y_high + x_high), -1)
    hy, ly = along_y(hy * y_in), along_y(ly * y_in)
    hx, lx = along_x(hx * x_in), along_x(lx * x_in)
    scale = 1. / (grid_h * grid_w)
    weights = torch.stack(
        torch.broadcast_tensors(hy * hx, hy * lx, ly * hx, ly * lx),
        -1) * scale
    return rows, weights


def _bags(rois: torch.Tensor, height: int, width: int,
          output_size: Tuple[int, int], spatial_scale: float,
          sampling_ratio: int, aligned: bool):
    """Rows of the ``(N*H*W, C)`` table, their weights and bag offsets: one
    bag per output bin, in RoI order, four rows per sample point. RoIs with
    an empty grid get empty bags (they pool to zero, as in mmcv)."""
    start_y, start_x, bin_h, bin_w, grid_h, grid_w = _sampling_grid(
        rois, output_size, spatial_scale, sampling_ratio, aligned)
    batch = rois[:, 0].long()
    bins = output_size[0] * output_size[1]
    samples = grid_h * grid_w
    entries = samples * (4 * bins)  # per RoI
    bag_sizes = (samples * 4).repeat_interleave(bins)
    offsets = torch.cumsum(bag_sizes, 0) - bag_sizes
    # Build RoIs that share a grid together (regular tensors), then put
    # their entries back in RoI order.
    key = grid_h * (int(grid_w.max()) + 1 if len(rois) else 1) + grid_w
    keys = torch.unique(key[samples > 0]).tolist()
    all_rows, all_weights, order = [], [], []
    for value in keys:
        members = (key == value).nonzero()[:, 0]
        grid = (int(grid_h[members[0]]), int(grid_w[members[0]]))
        rows, weights = _group_bags(start_y[members], start_x[members],
                                    bin_h[members], bin_w[members],
                                    batch[members], grid, height, width,
                                    output_size)
        all_rows.append(rows.reshape(-1))
        all_weights.append(weights.reshape(-1))
        order.append(members)
    if not all_rows:
        return torch.zeros(0, dtype=torch.long), torch.zeros(0), offsets
    rows, weights = torch.cat(all_rows), torch.cat(all_weights)
    order = torch.cat(order)
    if len(order) == len(rois) and bool((order[1:] > order[:-1]).all()):
        return rows, weights, offsets
    grouped_start = torch.zeros_like(entries)
    grouped_start[order] = torch.cumsum(entries[order], 0) - entries[order]
    start = torch.cumsum(entries, 0) - entries
    gather = torch.repeat_interleave(grouped_start - start, entries)
    gather += torch.arange(len(gather))
    return rows[gather], weights[gather], offsets


def _chunks(roi_starts: List[int], limit: int):
    """Consecutive RoI ranges ``(first, last)`` of at most ``limit`` table
    entries, from each RoI's first entry (and the total at the end); a
    single RoI larger than ``limit`` is a chunk of its own."""
    first = 0
    for index in range(1, len(roi_starts)):
        if (roi_starts[index] - roi_starts[first] > limit
                and index - 1 > first):
            yield first, index - 1
            first = index - 1
    yield first, len(roi_starts) - 1


def fast_roi_align(input: torch.Tensor,
                   rois: torch.Tensor,
                   output_size: Union[int, Tuple[int, int]],
                   spatial_scale: float = 1.0,
                   sampling_ratio: int = 0,
                   aligned: bool = True) -> torch.Tensor:
    """Average RoIAlign with mmcv's semantics.

    Args:
        input: ``(N, C, H, W)`` features, any float dtype.
        rois: ``(R, 5)`` RoIs as ``(batch index, x1, y1, x2, y2)`` in input
            image coordinates. No gradient flows to them (as in mmcv).
        output_size: bins per RoI, ``h`` or ``(h, w)``.
        spatial_scale: feature map size over image size.
        sampling_ratio: sample points per bin side; 0 for mmcv's adaptive
            ``ceil(roi_size / output_size)``.
        aligned: shift by half a pixel (detectron2's ``aligned=True``).

    Returns:
        ``(R, C, h, w)`` in the dtype of ``input``, in channels-last memory
        format (mmdet's RoI extractors copy it into their own buffer).
    """
    output_size = _pair(output_size)
    if rois.dim() != 2 or rois.size(1) != 5:
        raise ValueError('FastRoIAlign: rois must be (R, 5) as (batch '
                         f'index, x1, y1, x2, y2), got {tuple(rois.shape)}')
    num_rois, bins = len(rois), output_size[0] * output_size[1]
    channels, height, width = input.shape[1:]
    with torch.no_grad():
        rows, weights, offsets = _bags(rois.detach().float().cpu(), height,
                                       width, output_size,
                                       float(spatial_scale),
                                       int(sampling_ratio), aligned)
    with torch.autocast(input.device.type, enabled=False):
        # (N*H*W, C): free for channels-last input, one copy otherwise
        table = input.float().permute(0, 2, 3, 1).contiguous().view(
            -1, channels)
        roi_starts = torch.cat(
            [offsets[::bins], torch.tensor([len(rows)])]).tolist()
        pooled = []
        for first, last in _chunks(roi_starts, MAX_ENTRIES_PER_CHUNK):
            begin, end = roi_starts[first], roi_starts[last]
            pooled.append(
                F.embedding_bag(
                    rows[begin:end].to(input.device),
                    table,
                    (offsets[first * bins:last * bins] - begin).to(
                        input.device),
                    mode='sum',
                    per_sample_weights=weights[begin:end].to(input.device)))
        pooled = torch.cat(pooled) if len(pooled) > 1 else pooled[0]
        pooled = pooled.view(num_rois, *output_size, channels)
    return pooled.permute(0, 3, 1, 2).to(input.dtype)


class FastRoIAlign(nn.Module):
    """Drop-in for ``mmcv.ops.RoIAlign`` (``pool_mode='avg'``) that runs all
    RoIs at once on every core. Select it in a config with
    ``roi_layer=dict(type='FastRoIAlign', output_size=7, sampling_ratio=0)``.

    Args:
        output_size (int | tuple): bins per RoI, ``h`` or ``(h, w)``.
        spatial_scale (float): feature map size over image size.
        sampling_ratio (int): sample points per bin side, 0 for adaptive.
            Defaults to 0.
        pool_mode (str): only ``'avg'``. Defaults to ``'avg'``.
        aligned (bool): half-pixel shift as detectron2. Defaults to True.
        use_torchvision (bool): accepted for config compatibility with
            mmcv's ``RoIAlign``; must be False. Defaults to False.
    """

    def __init__(self,
                 output_size: Union[int, Tuple[int, int]],
                 spatial_scale: float = 1.0,
                 sampling_ratio: int = 0,
                 pool_mode: str = 'avg',
                 aligned: bool = True,
                 use_torchvision: bool = False) -> None:
        super().__init__()
        if pool_mode != 'avg':
            raise ValueError(f"FastRoIAlign: pool_mode='{pool_mode}' is not "
                             "supported; use pool_mode='avg' or mmcv's "
                             "RoIAlign")
        if use_torchvision:
            raise ValueError('FastRoIAlign: use_torchvision=True is not '
                             "supported; drop it or use mmcv's RoIAlign")
        self.output_size = _pair(output_size)
        self.spatial_scale = float(spatial_scale)
        self.sampling_ratio = int(sampling_ratio)
        self.pool_mode = pool_mode
        self.aligned = aligned

    def forward(self, input: torch.Tensor,
                rois: torch.Tensor) -> torch.Tensor:
        """Pool ``(R, 5)`` RoIs of ``(N, C, H, W)`` features into
        ``(R, C, h, w)``."""
        return fast_roi_align(input, rois, self.output_size,
                              self.spatial_scale, self.sampling_ratio,
                              self.aligned)

    def extra_repr(self) -> str:
        return (f'output_size={self.output_size}, '
                f'spatial_scale={self.spatial_scale}, '
                f'sampling_ratio={self.sampling_ratio}, '
                f'aligned={self.aligned}')
