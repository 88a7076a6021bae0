"""FasterNet weights in timm's and the Hugging Face hub's format.

timm itself cannot be imported here: ``timm/__init__.py`` imports
``timm.layers``, whose ``create_norm.py`` and ``norm_act.py`` import
``torchvision.ops.misc`` unconditionally, and no torchvision loads beside
this CPU torch build. So the timm-format files are made as timm made the
hub's: timm 1.0.31's ``checkpoint_filter_fn`` (timm/models/fasternet.py)
documents the renaming it applied to the official v1.0 checkpoints, which
``official_to_timm`` below follows line by line, independently of
mmfasternet's own mapping (mmfasternet/models/backbones/timm_keys.py).
"""
import logging
import runpy
import sys
from pathlib import Path

import pytest
import torch
from mmengine.logging import MMLogger
from safetensors.torch import save_file

from mmfasternet.models import FasterNet
from mmfasternet.models.backbones.timm_keys import timm_to_official

REPO = Path(__file__).parents[1]
CONVERTER = REPO / 'tools' / 'model_converters' / 'timm2mmfasternet.py'
VARIANTS = ['t0', 't1', 't2', 's', 'm', 'l']
# timm/models/fasternet.py, checkpoint_filter_fn: official prefix -> timm's.
TIMM_STAGE_MAPPING = {
    'stages.1.': 'stages.1.downsample.',
    'stages.2.': 'stages.1.',
    'stages.3.': 'stages.2.downsample.',
    'stages.4.': 'stages.2.',
    'stages.5.': 'stages.3.downsample.',
    'stages.6.': 'stages.3.'
}


def official_to_timm(state_dict: dict) -> dict:
    """What timm did to the official checkpoints for the hub."""
    state_dict = dict(state_dict)
    out = {
        'conv_head.weight': state_dict.pop('avgpool_pre_head.1.weight'),
        'classifier.weight': state_dict.pop('head.weight'),
        'classifier.bias': state_dict.pop('head.bias')
    }
    for key, value in state_dict.items():
        for old_prefix, new_prefix in TIMM_STAGE_MAPPING.items():
            if key.startswith(old_prefix):
                key = key.replace(old_prefix, new_prefix)
                break
        out[key] = value
    return out


def imagenet_classifier(arch: str, seed: int) -> tuple:
    """A FasterNet with random weights and BN statistics, and its state dict
    in the official ImageNet layout (classifier included, no output norms)
    """
    torch.manual_seed(seed)
    model = FasterNet(arch=arch, init_cfg=None)  # PyTorch's default init
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.5, 0.5)
    state = {k: v for k, v in model.state_dict().items()
             if not k.startswith('norm')}
    last = model.channels[-1]
    state['avgpool_pre_head.1.weight'] = torch.randn(1280, last, 1, 1)
    state['head.weight'] = torch.randn(1000, 1280)
    state['head.bias'] = torch.randn(1000)
    return model.eval(), state


def save_timm_file(state: dict, path: Path) -> Path:
    """``state`` renamed as timm did, saved as the hub (``.safetensors``)
    or timm (``.pth``/``.bin``, torch.save) does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    timm_state = official_to_timm(state)
    if path.suffix == '.safetensors':
        save_file({k: v.contiguous() for k, v in timm_state.items()},
                  str(path))
    else:
        torch.save(timm_state, path)
    return path


def load_pretrained(arch: str, path: Path) -> FasterNet:
    model = FasterNet(
        arch=arch, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    model.init_weights()
    return model.eval()


@pytest.mark.parametrize('arch, file', [
    *((arch, 'model.safetensors') for arch in VARIANTS),
    ('t0', 'pytorch_model.bin'), ('t0', 'fasternet_t0.pth')])
def test_timm_and_hub_files_give_the_same_features(arch, file, tmp_path):
    reference, state = imagenet_classifier(arch, seed=0)
    path = save_timm_file(state, tmp_path / file)
    torch.manual_seed(1)  # other random weights before loading
    model = load_pretrained(arch, path)
    for i in range(4):  # output norms are new: keep the same ones
        getattr(model, f'norm{2 * i}').load_state_dict(
            getattr(reference, f'norm{2 * i}').state_dict())
    image = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for ours, theirs in zip(model(image), reference(image)):
            torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)


def test_classifier_is_skipped_with_one_log_line(tmp_path):
    _, state = imagenet_classifier('t0', seed=0)
    path = save_timm_file(state, tmp_path / 'model.safetensors')
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        load_pretrained('t0', path)
    finally:
        logger.removeHandler(handler)
    lines = [r.getMessage() for r in records
             if 'classifier' in r.getMessage()]
    assert len(lines) == 1 and 'skipped 3 classifier tensors' in lines[0]


@pytest.mark.parametrize('arch, other', [('t0', 't1'), ('s', 'm')])
def test_timm_file_of_another_variant_stops_as_an_official_one_does(
        arch, other, tmp_path):
    _, state = imagenet_classifier(other, seed=0)
    official = tmp_path / 'official.pth'
    torch.save(state, official)
    timm_file = save_timm_file(state, tmp_path / 'model.safetensors')
    messages = []
    for path in (official, timm_file):
        with pytest.raises(ValueError) as error:
            load_pretrained(arch, path)
        messages.append(str(error.value).replace(str(path), 'FILE'))
    assert messages[0] == messages[1]
    assert 'FILE' in messages[0] and f'embed_dim={FasterNet(arch).embed_dim}'\
        in messages[0]


def convert(src: Path, dst: Path, monkeypatch) -> None:
    """tools/model_converters/timm2mmfasternet.py SRC DST, in process."""
    monkeypatch.setattr(sys, 'argv', ['timm2mmfasternet.py', str(src),
                                      str(dst)])
    runpy.run_path(str(CONVERTER), run_name='__main__')


def test_converter_writes_the_official_layout(tmp_path, monkeypatch):
    _, state = imagenet_classifier('t2', seed=0)
    src = save_timm_file(state, tmp_path / 'model.safetensors')
    dst = tmp_path / 'converted.pth'
    convert(src, dst, monkeypatch)
    converted = torch.load(dst)['state_dict']
    assert converted.keys() == state.keys()
    assert all(torch.equal(converted[k], state[k]) for k in state)
    assert timm_to_official(state) is state  # official files pass unchanged


def test_converter_refuses_a_file_that_is_not_timms(tmp_path, monkeypatch,
                                                    capsys):
    _, state = imagenet_classifier('t0', seed=0)
    torch.save(state, tmp_path / 'official.pth')
    with pytest.raises(SystemExit) as exit_:
        convert(tmp_path / 'official.pth', tmp_path / 'out.pth', monkeypatch)
    assert exit_.value.code == 1
    assert 'is not a timm FasterNet checkpoint' in capsys.readouterr().err
    assert not (tmp_path / 'out.pth').exists()
