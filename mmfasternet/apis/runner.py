"""Training and testing as tools/train.py and tools/test.py run them.

The tools serve mmdet and mmseg configs alike: the config's
``default_scope`` decides which library's registries are used. What this
module adds to mmdet's and mmseg's own tools: pre-flight checks, CPU-only
distributed runs, exact resume, and evaluation that keeps partial results.
"""
import os
import os.path as osp
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from ..checkpoint import check_checkpoint_file
# Register RNGStateHook, CheckpointFitHook and ResilientTestLoop.
from ..engine import checkpoint_fit, hooks, loops  # noqa: F401
from ..engine.preflight import (check_cfg_options, check_config_path,
                                check_datasets, check_work_dir,
                                config_syntax_error)
from ..errors import InputError


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Read a config and apply ``--cfg-options`` after checking their keys."""
    check_config_path(path)
    try:
        cfg = Config.fromfile(path)
    except SyntaxError as error:
        raise config_syntax_error(path, error) from None
    check_cfg_options(cfg, cfg_options)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def default_work_dir(cfg: Config, config_path: str,
                     work_dir: Optional[str]) -> str:
    if work_dir is not None:
        return work_dir
    if cfg.get('work_dir'):
        return cfg.work_dir
    return osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])


def is_main_process() -> bool:
    """Rank 0, or the only process (torchrun sets ``RANK``)."""
    return int(os.environ.get('RANK', 0)) == 0


def report_checks(lines: List[str]) -> None:
    for line in lines:
        print_log(f'pre-flight: {line}', logger='current')


def setup_distributed(cfg: Config, launcher: str) -> None:
    """Set the launcher; on a machine without CUDA, make DDP use gloo.

    mmengine's launchers call ``torch.cuda.set_device`` and its DDP wrapper
    passes ``device_ids``; both fail without CUDA. Creating the gloo process
    group first (mmengine then skips its own) and wrapping with
    ``device_ids=None`` lets ``torchrun --nproc_per_node N`` train on CPUs.
    """
    cfg.launcher = launcher
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher != 'pytorch':
        raise InputError(
            f'--launcher {launcher} needs CUDA, and this machine has none. '
            f'On CPUs start the processes with torchrun and --launcher '
            f'pytorch (tools/dist_train.sh does that).')
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    env_cfg = cfg.get('env_cfg') or {}
    env_cfg['dist_cfg'] = dict(env_cfg.get('dist_cfg') or {}, backend='gloo')
    cfg.env_cfg = env_cfg
    # SyncBN needs CUDA; mmengine reverts it only in single-process runs.
    _replace_sync_bn(cfg.model)


def _replace_sync_bn(node) -> None:
    """SyncBN -> BN throughout a model config (CPU processes have no NCCL).
    """
    if isinstance(node, dict):
        if node.get('type') in ('SyncBN', 'MMSyncBN'):
            node['type'] = 'BN'
        for value in node.values():
            _replace_sync_bn(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _replace_sync_bn(value)


def setup_amp(cfg: Config, config: str) -> None:
    """``--amp``: fp16 with dynamic loss scaling, as mmdet's and mmseg's
    tools set it up; it needs a GPU."""
    if not torch.cuda.is_available():
        # mmengine's AmpOptimWrapper asserts a GPU, and CPU bf16 autocast
        # stops in mmcv's CPU nms, which takes float32 only.
        raise InputError(
            f'--amp: mixed precision needs a GPU and this machine has none. '
            f'Train {config} without --amp (full precision) on CPUs.')
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.loss_scale = 'dynamic'


def build_runner(cfg: Config) -> Runner:
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


@contextmanager
def process_group_closed_at_exit() -> Iterator[None]:
    """Destroy the process group (if one was made) when the block ends.

    Left to the interpreter's exit, gloo's worker threads may still be
    releasing the tensors of a finished collective while Python finalizes;
    the thread then cannot take the GIL, exits by forced unwinding inside a
    noexcept destructor, and the C++ runtime aborts the process ("terminate
    called without an active exception", SIGABRT) after a run that
    succeeded. Destroying the group joins those threads first. On success
    the processes meet at a barrier first, so none closes its connections
    while another still uses them.
    """
    succeeded = False
    try:
        yield
        succeeded = True
    finally:
        if dist.is_available() and dist.is_initialized():
            if succeeded:
                dist.barrier()
            dist.destroy_process_group()


def run_training(cfg: Config) -> None:
    """Build the runner from a prepared config and train."""
    with process_group_closed_at_exit():
        build_runner(cfg).train()


def run_testing(cfg: Config) -> dict:
    """Build the runner from a prepared config and test; the metrics."""
    with process_group_closed_at_exit():
        return build_runner(cfg).test()


def evaluate(config: str, checkpoint: str, work_dir: str,
             backend: Optional[str] = None,
             cfg_options: Optional[dict] = None,
             precision: Optional[str] = None) -> Dict:
    """``tools/test.py`` in-process (one process); returns the metrics,
    where the predictions went (.pkl for detection, a PNG folder for
    segmentation) and the precision that ran (an exported model's as its
    runtime reports it; PyTorch's fp32)."""
    scope = Config.fromfile(config).get('default_scope')
    out = osp.join(work_dir, 'predictions' if scope == 'mmseg'
                   else 'predictions.pkl')
    cfg = prepare_testing(config, checkpoint, work_dir=work_dir, out=out,
                          cfg_options=cfg_options, backend=backend,
                          precision=precision)
    runner = build_runner(cfg)
    with process_group_closed_at_exit():
        metrics = runner.test()
    return dict(metrics={k: float(v) for k, v in metrics.items()},
                predictions=out,
                precision=getattr(runner.model, 'precision', 'fp32'))


def prepare_training(config: str,
                     work_dir: Optional[str] = None,
                     resume: Optional[str] = None,
                     amp: bool = False,
                     auto_scale_lr: bool = False,
                     cfg_options: Optional[dict] = None,
                     launcher: str = 'none',
                     overwrite: bool = False) -> Config:
    """The training config with the command-line choices applied and every
    input checked, as mmdet's and mmseg's ``tools/train.py`` mean them."""
    cfg = load_config(config, cfg_options)
    cfg.work_dir = default_work_dir(cfg, config, work_dir)
    if amp:
        setup_amp(cfg, config)
    if auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise InputError(
                f'--auto-scale-lr: {config} sets no auto_scale_lr.'
                f'base_batch_size; add auto_scale_lr = dict(enable=False, '
                f'base_batch_size=N) with the total batch of its recipe.')
        cfg.auto_scale_lr.enable = True
    if resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif resume is not None:
        check_checkpoint_file(resume, '--resume')
        cfg.resume, cfg.load_from = True, resume
    else:
        check_checkpoint_file(cfg.get('load_from'), 'load_from')
    backbone_init = cfg.model.get('backbone', {}).get('init_cfg') or {}
    if isinstance(backbone_init, dict) and backbone_init.get(
            'type') == 'Pretrained' and not cfg.get('resume'):
        check_checkpoint_file(
            backbone_init.get('checkpoint'),
            'model.backbone.init_cfg.checkpoint; download the official '
            'weights (README, "Pretrained weights") or train from scratch '
            'with --cfg-options model.backbone.init_cfg=None')
    if is_main_process():  # the other processes wait for it in set-up
        report_checks(check_datasets(cfg))
        check_work_dir(cfg.work_dir, resume is not None, overwrite)
    setup_distributed(cfg, launcher)
    custom_hooks = list(cfg.get('custom_hooks', []))
    if not any(h.get('type') == 'RNGStateHook' for h in custom_hooks):
        cfg.custom_hooks = custom_hooks + [dict(type='RNGStateHook')]
    _use_resilient_test_loop(cfg)
    return cfg


def _use_resilient_test_loop(cfg: Config) -> None:
    for key in ('val_cfg', 'test_cfg'):
        loop = cfg.get(key)
        if not loop:
            continue
        if key == 'val_cfg' and loop.get('type', 'ValLoop') == 'ValLoop':
            continue  # validation during training: keep mmengine's loop
        if loop.get('type', 'TestLoop') == 'TestLoop':
            loop['type'] = 'ResilientTestLoop'


def prepare_testing(config: str,
                    checkpoint: str,
                    work_dir: Optional[str] = None,
                    out: Optional[str] = None,
                    show: bool = False,
                    show_dir: Optional[str] = None,
                    tta: bool = False,
                    cfg_options: Optional[dict] = None,
                    launcher: str = 'none',
                    backend: Optional[str] = None,
                    precision: Optional[str] = None) -> Config:
    """The test config, as mmdet's and mmseg's ``tools/test.py`` build it.
    An exported ``.onnx`` checkpoint runs in ``backend`` and ``precision``
    (mmfasternet.deploy).
    """
    cfg = load_config(config, cfg_options)
    cfg.work_dir = default_work_dir(cfg, config, work_dir)
    if backend or precision or checkpoint.endswith('.onnx'):
        from ..deploy import use_backend_model
        use_backend_model(cfg, checkpoint, backend, tta, precision)
    else:
        check_checkpoint_file(checkpoint, 'CHECKPOINT')
        cfg.load_from = checkpoint
    if is_main_process():
        report_checks(check_datasets(cfg, splits=('test_dataloader', )))
    os.makedirs(cfg.work_dir, exist_ok=True)
    if show or show_dir:
        _enable_visualization(cfg, show, show_dir)
    if tta:
        if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
            raise InputError(
                f'--tta: {config} defines no tta_model and tta_pipeline.')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.model = dict(**cfg.tta_model, module=cfg.model)
    if out is not None:
        _dump_results(cfg, out)
    setup_distributed(cfg, launcher)
    _use_resilient_test_loop(cfg)
    cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
        dict(type='CheckpointFitHook')]
    return cfg


def _dump_results(cfg: Config, out: str) -> None:
    """``--out``: mmdet's meaning (a .pkl of predictions) for detection
    configs, mmseg's (a folder of prediction PNGs) for segmentation ones."""
    if cfg.get('default_scope') == 'mmseg':
        cfg.test_evaluator['output_dir'] = out
        cfg.test_evaluator['keep_results'] = True
        return
    if not out.endswith(('.pkl', '.pickle')):
        raise InputError(f'--out {out}: the results file must end in .pkl '
                         f'or .pickle.')
    evaluators = cfg.test_evaluator
    if not isinstance(evaluators, list):
        evaluators = [evaluators]
    dump = 'DumpDetResults' if cfg.get('default_scope') == 'mmdet' \
        else 'mmengine.DumpResults'
    cfg.test_evaluator = list(evaluators) + [
        dict(type=dump, out_file_path=out)]


def _enable_visualization(cfg: Config, show: bool,
                          show_dir: Optional[str]) -> None:
    """``--show`` / ``--show-dir`` as mmdet's and mmseg's test tools do it."""
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        raise InputError('--show/--show-dir: the config has no '
                         'default_hooks.visualization hook.')
    hook['draw'] = True
    if show:
        hook['show'] = True
        hook['wait_time'] = 2
    if show_dir:
        if cfg.get('default_scope') == 'mmseg':
            cfg.visualizer['save_dir'] = show_dir
        else:
            hook['test_out_dir'] = show_dir
