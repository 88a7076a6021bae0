"""FasterNet backbone for dense prediction.

Chen et al., "Run, Don't Walk: Chasing Higher FLOPS for Faster Neural
Networks", CVPR 2023. Numerics and parameter names follow the official
code (JierunChen/FasterNet), so its ImageNet and Mask R-CNN checkpoints load
as they are.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmcv.cnn.bricks import DropPath
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from mmengine.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.utils.fusion import fuse_conv_bn_eval

from ...checkpoint import strip_wrapper_prefix
from .timm_keys import load_weights_file, timm_to_official

# Keys of the official ImageNet classifier that a dense-prediction backbone
# does not have.
CLASSIFIER_PREFIXES = ('avgpool_pre_head.', 'head.')


def fuse_conv_bn(conv: nn.Conv2d, norm: nn.Module) -> nn.Conv2d:
    """Fold an eval-mode BatchNorm into the conv before it (bias added)."""
    return fuse_conv_bn_eval(conv.eval(), norm.eval())


def _norm_or_identity(norm_cfg: dict, channels: int,
                      deploy: bool) -> nn.Module:
    """The norm after a conv, or nothing in the inference form, where it is
    folded into the conv."""
    return nn.Identity() if deploy else build_norm_layer(norm_cfg,
                                                         channels)[1]


def is_fused_state_dict(state_dict: dict) -> bool:
    """Whether backbone tensors (no prefix) are in the folded inference form:
    the patch embedding's conv carries a bias and no norm follows it."""
    return 'patch_embed.proj.bias' in state_dict and not any(
        k.startswith('patch_embed.norm.') for k in state_dict)


def check_fused_form(state_dict: dict, deploy: bool, filename: str) -> None:
    """Stop with one line when a checkpoint's form (folded or not) does not
    match the backbone's ``deploy`` setting."""
    fused = is_fused_state_dict(state_dict)
    if fused and not deploy:
        raise ValueError(
            f'{filename} holds a fused (deploy-form) FasterNet: build the '
            f'backbone with deploy=True (--cfg-options '
            f'model.backbone.deploy=True) to load it.')
    if deploy and not fused:
        raise ValueError(
            f'{filename} holds a FasterNet in training form, but the '
            f'backbone is built with deploy=True: fold it first with '
            f'tools/model_converters/reparameterize_model.py, or build with '
            f'deploy=False and call switch_to_deploy().')


class PartialConv3x3(nn.Module):
    """3x3 conv on the first ``channels // n_div`` channels only.

    The other channels pass through untouched. The input tensor is never
    written to: the block's residual shortcut reads it afterwards.

    Args:
        channels (int): Input and output channels.
        n_div (int): The conv sees ``channels // n_div`` channels. Default 4.
        deploy (bool): Take the inference path (copy once, overwrite the
            convolved part) instead of split-and-concatenate. Default False.
    """

    def __init__(self, channels: int, n_div: int = 4,
                 deploy: bool = False) -> None:
        super().__init__()
        self.conv_channels = channels // n_div
        self.untouched_channels = channels - self.conv_channels
        self.partial_conv3 = nn.Conv2d(
            self.conv_channels, self.conv_channels, 3, 1, 1, bias=False)
        self.deploy = deploy

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.deploy:
            # Inference form: copy once, then overwrite the convolved part
            # of the copy. Same values as split-and-concatenate.
            out = x.clone()
            out[:, :self.conv_channels] = self.partial_conv3(
                x[:, :self.conv_channels])
            return out
        convolved, untouched = torch.split(
            x, [self.conv_channels, self.untouched_channels], dim=1)
        return torch.cat((self.partial_conv3(convolved), untouched), dim=1)

    def switch_to_deploy(self) -> None:
        self.deploy = True


class FasterNetBlock(nn.Module):
    """PConv followed by a 1x1-BN-act-1x1 MLP, with a residual shortcut.

    Args:
        channels (int): Channels of the block.
        n_div (int): Partial ratio of the PConv.
        mlp_ratio (float): Hidden channels of the MLP over ``channels``.
        drop_path (float): Stochastic depth rate of this block.
        norm_cfg (dict): Norm after the first 1x1 conv.
        act_cfg (dict): Activation of the MLP.
        deploy (bool): Build the inference form: the first 1x1 conv carries
            a bias and no norm follows it (the BatchNorm is folded in).
            Default False.
    """

    def __init__(self, channels: int, n_div: int, mlp_ratio: float,
                 drop_path: float, norm_cfg: dict, act_cfg: dict,
                 deploy: bool = False) -> None:
        super().__init__()
        hidden_channels = int(channels * mlp_ratio)
        self.spatial_mixing = PartialConv3x3(channels, n_div, deploy)
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, hidden_channels, 1, bias=deploy),
            _norm_or_identity(norm_cfg, hidden_channels, deploy),
            build_activation_layer(act_cfg),
            nn.Conv2d(hidden_channels, channels, 1, bias=False),
        )
        self.drop_path = DropPath(drop_path) if drop_path > 0 \
            else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop_path(self.mlp(self.spatial_mixing(x)))

    def switch_to_deploy(self) -> None:
        self.spatial_mixing.switch_to_deploy()
        if not isinstance(self.mlp[1], nn.Identity):
            self.mlp[0] = fuse_conv_bn(self.mlp[0], self.mlp[1])
            self.mlp[1] = nn.Identity()


class FasterNetStage(nn.Module):
    """A sequence of :class:`FasterNetBlock` (``stages.{0,2,4,6}``)."""

    def __init__(self, blocks: List[FasterNetBlock], with_cp: bool) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*blocks)
        self.with_cp = with_cp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            if self.with_cp and x.requires_grad:
                x = cp.checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        return x


class PatchEmbed(nn.Module):
    """Non-overlapping ``patch_size`` conv without bias, then a norm."""

    def __init__(self, in_channels: int, out_channels: int, patch_size: int,
                 norm_cfg: dict, deploy: bool = False) -> None:
        super().__init__()
        self.proj = nn.Conv2d(
            in_channels, out_channels, patch_size, patch_size, bias=deploy)
        self.norm = _norm_or_identity(norm_cfg, out_channels, deploy)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x))

    def switch_to_deploy(self) -> None:
        if not isinstance(self.norm, nn.Identity):
            self.proj = fuse_conv_bn(self.proj, self.norm)
            self.norm = nn.Identity()


class PatchMerging(nn.Module):
    """2x2/2 conv that doubles the channels, then a norm (``stages.{1,3,5}``).
    """

    def __init__(self, in_channels: int, patch_size: int,
                 norm_cfg: dict, deploy: bool = False) -> None:
        super().__init__()
        self.reduction = nn.Conv2d(
            in_channels, 2 * in_channels, patch_size, patch_size, bias=deploy)
        self.norm = _norm_or_identity(norm_cfg, 2 * in_channels, deploy)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.reduction(x))

    def switch_to_deploy(self) -> None:
        if not isinstance(self.norm, nn.Identity):
            self.reduction = fuse_conv_bn(self.reduction, self.norm)
            self.norm = nn.Identity()


@MODELS.register_module()
class FasterNet(BaseModule):
    """FasterNet backbone for detection and segmentation.

    A patch embedding, then four stages of :class:`FasterNetBlock` with
    :class:`PatchMerging` between them, held in one ``stages`` sequence
    (blocks at 0, 2, 4, 6, merging at 1, 3, 5) as in the official code. Each
    returned feature map goes through its own norm ``norm{0,2,4,6}``.

    Args:
        arch (str | dict): A name from ``arch_settings`` (``'t0'``, ``'t1'``,
            ``'t2'``, ``'s'``, ``'m'``, ``'l'``) or a dict with keys
            ``embed_dim``, ``depths``, ``act`` and optionally ``n_div``,
            ``mlp_ratio``, ``drop_path_rate``. Default ``'s'``.
        in_channels (int): Input image channels. Default 3.
        out_indices (Sequence[int]): Stages (0-3) whose outputs are returned.
            Default (0, 1, 2, 3).
        frozen_stages (int): Freeze the patch embedding and the first
            ``frozen_stages`` stages (with the merging before each); -1 freezes
            nothing. Default -1.
        norm_eval (bool): Keep every BatchNorm in eval mode while training.
            Default False.
        with_cp (bool): Checkpoint each block to save memory. Default False.
        norm_cfg (dict): Norm layers. Default ``dict(type='BN')``.
        act_cfg (dict, optional): Activation; None takes the variant's own
            (GELU for t0 and t1, ReLU otherwise). Default None.
        drop_path_rate (float, optional): Stochastic depth rate of the last
            block; None takes the variant's ImageNet value. Default None.
        deploy (bool): Build the inference form directly, as mmpretrain's
            MobileOne and RepVGG do: every BatchNorm that follows a conv
            (patch embedding, merging, first 1x1 conv of each MLP) is absent
            and the conv carries the folded bias, so a state dict saved after
            :meth:`switch_to_deploy` (or by
            ``tools/model_converters/reparameterize_model.py``) loads strictly.
            The output norms ``norm{0,2,4,6}`` stay. Default False.
        channels_last (bool): Keep weights and activations in channels-last
            memory format (the input is converted on entry), where PyTorch's
            CPU and CUDA convolutions are fastest. Same values; independent
            of ``deploy``. Default False.
        init_cfg (dict | list[dict], optional): Initialisation. With
            ``type='Pretrained'``, an official ImageNet checkpoint or an
            official (or mmfasternet) detector checkpoint loads as it is.
    """
    arch_settings: Dict[str, dict] = {
        't0': dict(embed_dim=40, depths=(1, 2, 8, 2), act='GELU',
                   drop_path_rate=0.0),
        't1': dict(embed_dim=64, depths=(1, 2, 8, 2), act='GELU',
                   drop_path_rate=0.02),
        't2': dict(embed_dim=96, depths=(1, 2, 8, 2), act='ReLU',
                   drop_path_rate=0.05),
        's': dict(embed_dim=128, depths=(1, 2, 13, 2), act='ReLU',
                  drop_path_rate=0.1),
        'm': dict(embed_dim=144, depths=(3, 4, 18, 3), act='ReLU',
                  drop_path_rate=0.2),
        'l': dict(embed_dim=192, depths=(3, 4, 18, 3), act='ReLU',
                  drop_path_rate=0.3),
    }
    num_stages = 4

    def __init__(self,
                 arch: Union[str, dict] = 's',
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 act_cfg: Optional[dict] = None,
                 drop_path_rate: Optional[float] = None,
                 deploy: bool = False,
                 channels_last: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = [
                     dict(type='TruncNormal', layer='Conv2d', std=.02,
                          bias=0.),
                     dict(type='Constant', layer='_BatchNorm', val=1.,
                          bias=0.),
                 ]) -> None:
        super().__init__(init_cfg=init_cfg)
        self.arch = self._parse_arch(arch)
        self.embed_dim = self.arch['embed_dim']
        self.depths = tuple(self.arch['depths'])
        self.out_indices = self._parse_out_indices(out_indices)
        if not -1 <= frozen_stages <= self.num_stages:
            raise ValueError(
                f'FasterNet: frozen_stages={frozen_stages} is out of range; '
                f'use -1 (freeze nothing) up to {self.num_stages}.')
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        if act_cfg is None:
            act_cfg = dict(type=self.arch['act'])
            if act_cfg['type'] == 'ReLU':
                act_cfg['inplace'] = True
        if drop_path_rate is None:
            drop_path_rate = self.arch.get('drop_path_rate', 0.)
        n_div = self.arch.get('n_div', 4)
        mlp_ratio = self.arch.get('mlp_ratio', 2.)

        self.channels = [self.embed_dim * 2**i for i in range(self.num_stages)]
        self.deploy = deploy
        self.patch_embed = PatchEmbed(in_channels, self.embed_dim, 4, norm_cfg,
                                      deploy)
        rates = torch.linspace(0, drop_path_rate, sum(self.depths)).tolist()
        layers = []
        for i, (channels, depth) in enumerate(zip(self.channels, self.depths)):
            first = sum(self.depths[:i])
            blocks = [
                FasterNetBlock(channels, n_div, mlp_ratio, rates[first + j],
                               norm_cfg, act_cfg, deploy)
                for j in range(depth)
            ]
            layers.append(FasterNetStage(blocks, with_cp))
            if i < self.num_stages - 1:
                layers.append(PatchMerging(channels, 2, norm_cfg, deploy))
        self.stages = nn.Sequential(*layers)
        for i, channels in enumerate(self.channels):
            self.add_module(f'norm{2 * i}',
                            build_norm_layer(norm_cfg, channels)[1])
        self.channels_last = channels_last
        if channels_last:
            self.to(memory_format=torch.channels_last)
        self._freeze_stages()

    def _parse_arch(self, arch: Union[str, dict]) -> dict:
        if isinstance(arch, str):
            if arch.lower() not in self.arch_settings:
                raise KeyError(
                    f'FasterNet: unavailable arch {arch!r}, please choose '
                    f'from {sorted(self.arch_settings)} or pass a dict.')
            return dict(self.arch_settings[arch.lower()])
        required = {'embed_dim', 'depths', 'act'}
        if not isinstance(arch, dict) or not required <= set(arch):
            raise ValueError(f'FasterNet: a custom arch must be a dict with '
                             f'keys {sorted(required)}, got {arch!r}.')
        if len(arch['depths']) != self.num_stages:
            raise ValueError(f'FasterNet: arch depths must have '
                             f'{self.num_stages} entries, got '
                             f'{arch["depths"]}')
        return dict(arch)

    def _parse_out_indices(self, out_indices: Sequence[int]) -> List[int]:
        if isinstance(out_indices, int):
            out_indices = [out_indices]
        out_indices = list(out_indices)
        for i, index in enumerate(out_indices):
            if index < 0:
                out_indices[i] = index + self.num_stages
            if not 0 <= out_indices[i] < self.num_stages:
                raise ValueError(
                    f'FasterNet: out_indices entry {index} is out of range; '
                    f'stages are numbered 0-{self.num_stages - 1}.')
        return out_indices

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.patch_embed(x)
        outs = []
        for i, layer in enumerate(self.stages):
            x = layer(x)
            if i % 2 == 0 and i // 2 in self.out_indices:
                outs.append(getattr(self, f'norm{i}')(x))
        return tuple(outs)

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        # Stage i is the merging layer 2i-1 (none for i = 0) and blocks 2i.
        frozen = [self.patch_embed] + list(
            self.stages[:max(0, 2 * self.frozen_stages - 1)])
        for stage in range(self.frozen_stages):
            frozen.append(getattr(self, f'norm{2 * stage}'))
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'FasterNet':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self

    def switch_to_deploy(self) -> 'FasterNet':
        """Turn the network into its inference form, in place.

        BatchNorm is folded into the conv before it (patch embedding,
        merging, first 1x1 conv of each MLP) and the partial conv takes its
        copy-and-overwrite path: the module structure of
        ``FasterNet(deploy=True)``, same outputs as the training form in
        eval mode. The memory format is left as it is (``channels_last`` is
        a separate choice). Safe to call twice. Returns ``self``.
        """
        self.eval()
        for module in self.modules():
            if module is not self and hasattr(module, 'switch_to_deploy'):
                module.switch_to_deploy()
        if self.channels_last:  # folded convs are new tensors
            self.to(memory_format=torch.channels_last)
        self.deploy = True
        return self

    def set_channels_last(self, enabled: bool = True) -> 'FasterNet':
        """Switch weights and activations to channels-last (or back)."""
        self.channels_last = enabled
        self.to(memory_format=torch.channels_last if enabled
                else torch.contiguous_format)
        return self

    def init_weights(self) -> None:
        if isinstance(self.init_cfg, dict) and \
                self.init_cfg.get('type') == 'Pretrained':
            self.load_official_checkpoint(self.init_cfg['checkpoint'],
                                          self.init_cfg.get('prefix'))
            self._is_init = True
        else:
            super().init_weights()

    def load_official_checkpoint(self, filename: str,
                                 prefix: Optional[str] = None) -> None:
        """Load an official or mmfasternet checkpoint into this backbone.

        Accepts the official ImageNet classifier (``avgpool_pre_head.*`` and
        ``head.*`` skipped; ``norm{0,2,4,6}`` are new in a dense-prediction
        backbone and keep their init) and detector checkpoints whose
        backbone keys start with ``prefix`` (default ``backbone.`` when
        present). Anything else that does not match raises ``ValueError``
        naming the file, instead of training on from random weights.
        """
        if '://' not in filename and not osp.isfile(filename):
            raise FileNotFoundError(
                f'FasterNet pretrained checkpoint not found: {filename!r}. '
                'Download the official weights (see README, "Pretrained '
                'weights"), then pass their path with --cfg-options '
                'model.backbone.init_cfg.checkpoint=PATH, or train from '
                'scratch with --cfg-options model.backbone.init_cfg=None.')
        checkpoint = load_weights_file(filename)  # .safetensors too
        state_dict = timm_to_official(
            self.official_state_dict(checkpoint, prefix))
        logger = MMLogger.get_current_instance()
        skipped = [k for k in state_dict if k.startswith(CLASSIFIER_PREFIXES)]
        for key in skipped:
            del state_dict[key]
        check_fused_form(state_dict, self.deploy, filename)
        own_keys = set(self.state_dict())
        missing = sorted(own_keys - set(state_dict))
        unexpected = sorted(set(state_dict) - own_keys)
        new_output_norms = [k for k in missing if k.split('.')[0] in
                            {f'norm{2 * i}' for i in range(self.num_stages)}]
        missing = [k for k in missing if k not in new_output_norms]
        if missing or unexpected:
            matched = len(own_keys & set(state_dict))
            raise ValueError(
                f'{filename} is not a FasterNet checkpoint of this variant '
                f'(embed_dim={self.embed_dim}, depths={self.depths}): '
                f'{matched} of {len(own_keys)} backbone keys matched; '
                f'missing e.g. {missing[:3]}, unexpected e.g. '
                f'{unexpected[:3]}. Check the arch and the checkpoint path.')
        try:
            self.load_state_dict(state_dict, strict=False)
        except RuntimeError as error:
            raise ValueError(f'{filename} does not fit FasterNet '
                             f'(embed_dim={self.embed_dim}): {error}'
                             ) from None
        notes = [f'loaded {len(state_dict)} tensors from {filename}']
        if skipped:
            notes.append(f'skipped {len(skipped)} classifier tensors')
        if new_output_norms:
            notes.append('output norms norm0/2/4/6 are not in the checkpoint '
                         'and keep their init')
        logger.info('FasterNet: ' + '; '.join(notes))

    @staticmethod
    def official_state_dict(checkpoint: dict,
                            prefix: Optional[str] = None) -> dict:
        """The backbone tensors of a checkpoint, prefix removed."""
        state_dict = checkpoint
        for wrapper in ('state_dict', 'model'):
            if isinstance(state_dict.get(wrapper), dict):
                state_dict = state_dict[wrapper]
                break
        if prefix is None:
            prefix = 'backbone.' if any(
                k.startswith('backbone.') for k in state_dict) else ''
        if prefix:
            state_dict = {
                k[len(prefix):]: v
                for k, v in state_dict.items() if k.startswith(prefix)
            }
        return strip_wrapper_prefix(state_dict)
