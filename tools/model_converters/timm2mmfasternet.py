"""Convert a timm / Hugging Face hub FasterNet checkpoint to the official
key layout that mmfasternet (and JierunChen/FasterNet) use.

    python tools/model_converters/timm2mmfasternet.py \
        fasternet_s.in1k/model.safetensors checkpoints/fasternet_s_timm.pth

SRC: ``model.safetensors`` from the hub or a timm ``.pth``/``.bin`` state
dict. DST: a ``.pth`` with ``state_dict`` that ``init_cfg=dict(type=
'Pretrained', checkpoint=DST)`` loads (it loads SRC directly too). Nothing
is dropped: the classifier keeps its tensors under the official names.
"""
import argparse
import os.path as osp

import torch

from mmfasternet.apis import run_cli
from mmfasternet.errors import InputError
from mmfasternet.models.backbones.timm_keys import (is_timm_state_dict,
                                                    load_weights_file,
                                                    timm_to_official)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='timm .pth/.bin or hub .safetensors')
    parser.add_argument('dst', help='converted .pth to write')
    args = parser.parse_args()
    if not osp.isfile(args.src):
        raise InputError(f'{args.src}: file not found.')
    state_dict = load_weights_file(args.src)
    for wrapper in ('state_dict', 'model'):
        if isinstance(state_dict.get(wrapper), dict):
            state_dict = state_dict[wrapper]
    if not is_timm_state_dict(state_dict):
        raise InputError(
            f'{args.src} is not a timm FasterNet checkpoint (no '
            f'stages.N.downsample.* or conv_head.* keys); official and '
            f'mmfasternet checkpoints need no conversion.')
    converted = timm_to_official(state_dict)
    torch.save(dict(state_dict=converted), args.dst)
    print(f'{len(converted)} tensors written to {args.dst}')


if __name__ == '__main__':
    run_cli(main)
