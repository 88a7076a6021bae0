"""``tools/test.py --amp`` and ``--compile``: faster inference in the test
loop, applied to the config so the rest of the loop is unchanged."""
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from ..errors import InputError
from ..inference import compile_dense_parts
from ..ops import register_float32_predictions, use_fast_roi_align


@HOOKS.register_module()
class FastInferenceHook(Hook):
    """Prepare the loaded model for fast inference (``before_test`` runs
    after mmengine's ``load_or_resume``).

    Args:
        compile (bool): ``torch.compile`` the backbone and the neck, with
            inductor's freezing; the heads stay eager (mmcv ops break
            graphs).
        float32_predictions (bool): Predictions made under autocast leave
            the model in float32 (COCO and IoU metrics go through numpy,
            which has no bf16).
    """
    priority = 'VERY_HIGH'

    def __init__(self, compile: bool = False,
                 float32_predictions: bool = True) -> None:
        self.compile = compile
        self.float32_predictions = float32_predictions

    def before_test(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        model.eval()
        if self.float32_predictions:
            register_float32_predictions(model)
        if self.compile:
            parts = compile_dense_parts(model)
            runner.logger.info(f'--compile: compiled {", ".join(parts)}; '
                               f'the first images take longer')


def apply_fast_test_options(cfg: Config, amp: bool = False,
                            compile: bool = False,
                            mmcv_roi_align: bool = False) -> Config:
    """``amp``: mmengine's test loop runs under autocast (``fp16=True``),
    which is bf16 on a CPU and fp16 on CUDA; importing mmfasternet gives
    the ops that refuse half precision (mmcv's nms, RoIAlign) float32
    inputs, and :class:`FastInferenceHook` hands float32 predictions to the
    evaluators. ``compile``: the hook compiles the backbone and neck.
    An exported model (``CHECKPOINT.onnx``) runs as the runtime compiled it:
    both flags are refused for it with the reason.

    On a machine without CUDA the RoI layers become ``FastRoIAlign`` (mmcv's
    values within 1e-5, on every core instead of one) unless
    ``mmcv_roi_align``; with CUDA mmcv's kernel stays."""
    if (amp or compile) and cfg.model.get('type') == 'BackendModel':
        flag = '--amp' if amp else '--compile'
        raise InputError(
            f'{flag} is for PyTorch checkpoints; {cfg.model.onnx_file} runs '
            f'in {cfg.model.backend} as exported (fp32). Drop {flag}, or '
            f'test the .pth checkpoint with it.')
    if not mmcv_roi_align and not torch.cuda.is_available():
        switched = use_fast_roi_align(cfg.model)
        if switched:
            print_log(f'RoIAlign -> FastRoIAlign in {switched} RoI layers '
                      f'(same values, all CPU cores; --mmcv-roi-align '
                      f'keeps mmcv\'s single-threaded kernel)',
                      logger='current')
    if amp:
        test_cfg = cfg.get('test_cfg') or {}
        test_cfg['fp16'] = True
        cfg.test_cfg = test_cfg
    if amp or compile:
        cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
            dict(type='FastInferenceHook', compile=compile,
                 float32_predictions=amp)]
    return cfg
