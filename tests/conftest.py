"""Settings every test starts from, whatever the shell that runs pytest has.
"""
import pytest


@pytest.fixture(autouse=True)
def no_user_data_locations(monkeypatch):
    """The configs read these; a test that needs one sets it itself."""
    for variable in ('FASTERNET_PRETRAINED', 'COCO_ROOT'):
        monkeypatch.delenv(variable, raising=False)
