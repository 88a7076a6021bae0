"""The generated COCO and ADE20K look-alikes."""
import hashlib
import json

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO

from mmfasternet.datasets import (ADE_CLASSES, SHAPE_CLASSES, make_ade_dataset,
                                  make_coco_dataset)


def tree_digest(root) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob('*') if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def test_coco_set_is_valid_for_pycocotools(tmp_path):
    root = make_coco_dataset(str(tmp_path / 'coco'), num_train=6, num_val=3,
                             size=64, seed=3)
    coco = COCO(f'{root}/annotations/instances_train2017.json')
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == list(
        SHAPE_CLASSES)
    assert len(coco.getImgIds()) == 6
    assert coco.getAnnIds()
    for ann in coco.loadAnns(coco.getAnnIds()):
        x, y, w, h = ann['bbox']
        assert 0 <= x and 0 <= y and x + w <= 64 and y + h <= 64
        mask = coco.annToMask(ann)
        assert mask.sum() > 0
        ys, xs = np.nonzero(mask)
        # The polygon covers the box it was measured from (to a pixel).
        assert abs(xs.min() - x) <= 1 and abs(ys.min() - y) <= 1
    image = cv2.imread(f"{root}/train2017/{coco.loadImgs(1)[0]['file_name']}")
    assert image.shape == (64, 64, 3)
    val = json.load(open(f'{root}/annotations/instances_val2017.json'))
    assert len(val['images']) == 3
    train_ids = set(coco.getImgIds())
    assert not train_ids & {i['id'] for i in val['images']}


def test_same_seed_gives_identical_files_and_other_seed_differs(tmp_path):
    a = make_coco_dataset(str(tmp_path / 'a'), 4, 2, size=48, seed=1)
    b = make_coco_dataset(str(tmp_path / 'b'), 4, 2, size=48, seed=1)
    c = make_coco_dataset(str(tmp_path / 'c'), 4, 2, size=48, seed=2)
    digests = [tree_digest(tmp_path / name) for name in 'abc']
    assert digests[0] == digests[1] != digests[2]
    assert (a, b, c) == tuple(str(tmp_path / n) for n in 'abc')


def test_generation_is_idempotent_and_leaves_no_temporary_folder(tmp_path):
    root = str(tmp_path / 'coco')
    make_coco_dataset(root, 3, 1, size=48)
    before = tree_digest(tmp_path / 'coco')
    make_coco_dataset(root, 3, 1, size=48)
    assert tree_digest(tmp_path / 'coco') == before
    assert [p.name for p in tmp_path.iterdir()] == ['coco']


def test_existing_folder_with_other_content_is_never_overwritten(tmp_path):
    root = tmp_path / 'coco'
    root.mkdir()
    (root / 'mine.txt').write_text('user data')
    with pytest.raises(FileExistsError, match='coco'):
        make_coco_dataset(str(root), 3, 1, size=48)
    assert (root / 'mine.txt').read_text() == 'user data'


def test_ade_set_has_matching_images_and_labels(tmp_path):
    root = tmp_path / 'ade'
    make_ade_dataset(str(root), num_train=5, num_val=2, size=64, seed=0)
    labels = sorted((root / 'annotations' / 'training').glob('*.png'))
    images = sorted((root / 'images' / 'training').glob('*.jpg'))
    assert len(labels) == len(images) == 5
    assert [p.stem for p in labels] == [p.stem for p in images]
    seen = set()
    for label_path in labels:
        label = cv2.imread(str(label_path), cv2.IMREAD_UNCHANGED)
        assert label.shape == (64, 64) and label.dtype == np.uint8
        seen |= set(np.unique(label).tolist())
    # 1 is background, 2.. the shapes; 0 (unlabelled) is never written.
    assert 1 in seen and seen <= set(range(1, len(ADE_CLASSES) + 1))
    assert len(seen) >= 3
