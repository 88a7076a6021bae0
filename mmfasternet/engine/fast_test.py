"""``tools/test.py --amp`` and ``--compile``: faster inference in the test
loop, applied to the config so the rest of the loop is unchanged."""
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from ..inference import compile_dense_parts


@HOOKS.register_module()
class CompileForInferenceHook(Hook):
    """``torch.compile`` the backbone and the neck once the checkpoint is
    loaded (``before_test`` runs after mmengine's ``load_or_resume``), with
    inductor's freezing; the heads stay eager (mmcv ops break graphs)."""
    priority = 'VERY_HIGH'

    def before_test(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        model.eval()
        parts = compile_dense_parts(model)
        runner.logger.info(f'--compile: compiled {", ".join(parts)}; the '
                           f'first images take longer while it compiles')


def apply_fast_test_options(cfg: Config, amp: bool = False,
                            compile: bool = False) -> Config:
    """``amp``: mmengine's test loop runs under autocast (``fp16=True``),
    which is bf16 on a CPU and fp16 on CUDA; importing mmfasternet gives
    the ops that refuse half precision (mmcv's nms, RoIAlign) float32
    inputs. ``compile``: :class:`CompileForInferenceHook`."""
    if amp:
        test_cfg = cfg.get('test_cfg') or {}
        test_cfg['fp16'] = True
        cfg.test_cfg = test_cfg
    if compile:
        cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
            dict(type='CompileForInferenceHook')]
    return cfg
