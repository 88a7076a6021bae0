"""Small generated data sets in COCO and ADE20K layouts.

The scenes hold shapes that a detector or segmenter can really learn: each
class has its own outline and colour, sizes vary by 4x, and later shapes
occlude earlier ones. The background is a smooth random texture. Everything
is drawn from one seed, so a data set is the same on every machine. The demo
and the tests both use these generators, so nothing is downloaded.
"""
import json
import os
import os.path as osp
import shutil
import tempfile
from dataclasses import dataclass
from typing import Callable, Dict, List, Tuple

import cv2
import numpy as np

SHAPE_CLASSES = ('circle', 'square', 'triangle', 'star')
# One base colour per class (RGB); each object jitters it a little.
SHAPE_COLOURS = ((220, 40, 40), (40, 180, 60), (50, 80, 230), (230, 200, 30))
# ADE-style label values: 0 is "unlabelled" (ignored with reduce_zero_label),
# 1 the textured background, 2.. the shape classes.
ADE_CLASSES = ('background', ) + SHAPE_CLASSES
FORMAT_VERSION = 1


@dataclass
class SceneObject:
    label: int  # index into SHAPE_CLASSES
    mask: np.ndarray  # bool, H x W, visible part only


def _shape_polygon(label: int, centre: Tuple[float, float], radius: float,
                   angle: float) -> np.ndarray:
    """Outline of a square, triangle or star as an (N, 2) int32 array."""
    corners = {1: 4, 2: 3, 3: 10}[label]
    angles = angle + np.arange(corners) * 2 * np.pi / corners
    radii = np.full(corners, radius)
    if label == 3:  # star: alternate outer and inner points
        radii[1::2] *= 0.45
    points = np.stack([centre[0] + radii * np.cos(angles),
                       centre[1] + radii * np.sin(angles)], axis=1)
    return np.round(points).astype(np.int32)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth random colour field, so boxes are not found by colour alone."""
    coarse = rng.integers(60, 190, size=(4, 4, 3)).astype(np.uint8)
    image = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    noise = rng.normal(0, 8, size=image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def draw_scene(rng: np.random.Generator, size: int, max_objects: int = 6,
               min_visible: int = 40) -> Tuple[np.ndarray, List[SceneObject]]:
    """Draw one image with 1..max_objects shapes.

    Returns the RGB image (H x W x 3, uint8) and the visible objects, in
    drawing order; an object hidden below ``min_visible`` pixels is dropped.
    """
    image = _background(rng, size)
    objects: List[SceneObject] = []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        label = int(rng.integers(len(SHAPE_CLASSES)))
        radius = float(rng.uniform(0.06, 0.24) * size)
        centre = (float(rng.uniform(radius * .5, size - radius * .5)),
                  float(rng.uniform(radius * .5, size - radius * .5)))
        mask = np.zeros((size, size), np.uint8)
        if label == 0:
            cv2.circle(mask, (round(centre[0]), round(centre[1])),
                       round(radius), 1, -1)
        else:
            polygon = _shape_polygon(label, centre, radius,
                                     float(rng.uniform(0, 2 * np.pi)))
            cv2.fillPoly(mask, [polygon], 1)
        mask = mask.astype(bool)
        colour = np.clip(
            np.array(SHAPE_COLOURS[label]) + rng.integers(-25, 26, 3), 0, 255)
        image[mask] = colour.astype(np.uint8)
        for earlier in objects:  # the new shape occludes what lies below
            earlier.mask &= ~mask
        objects.append(SceneObject(label, mask))
    visible = [o for o in objects if o.mask.sum() >= min_visible]
    return image, visible


def _polygons(mask: np.ndarray) -> List[List[float]]:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    return [c.reshape(-1).astype(float).tolist() for c in contours
            if len(c) >= 3]


def _coco_split(rng: np.random.Generator, image_dir: str, count: int,
                size: int, first_id: int) -> Dict:
    images, annotations = [], []
    for index in range(count):
        image_id = first_id + index
        image, objects = draw_scene(rng, size)
        file_name = f'{image_id:06d}.png'
        cv2.imwrite(osp.join(image_dir, file_name), image[..., ::-1])
        images.append(dict(id=image_id, file_name=file_name, height=size,
                           width=size))
        for obj in objects:
            # Slivers left by occlusion have no polygon; drop them so that
            # box, area and polygon describe the same pixels.
            mask = cv2.morphologyEx(obj.mask.astype(np.uint8), cv2.MORPH_OPEN,
                                    np.ones((3, 3), np.uint8)).astype(bool)
            polygons = _polygons(mask)
            if not polygons:
                continue
            ys, xs = np.nonzero(mask)
            x0, y0 = int(xs.min()), int(ys.min())
            annotations.append(dict(
                id=len(annotations) + 1 + first_id * 100,
                image_id=image_id, category_id=obj.label + 1,
                segmentation=polygons, area=float(mask.sum()),
                bbox=[x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1],
                iscrowd=0))
    categories = [dict(id=i + 1, name=name, supercategory='shape')
                  for i, name in enumerate(SHAPE_CLASSES)]
    return dict(images=images, annotations=annotations,
                categories=categories)


def _write_coco(root: str, splits: Dict[str, int], size: int,
                seed: int) -> None:
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'annotations'))
    first_id = 1
    for split, count in splits.items():
        image_dir = osp.join(root, f'{split}2017')
        os.makedirs(image_dir)
        coco = _coco_split(rng, image_dir, count, size, first_id)
        first_id += count
        with open(osp.join(root, 'annotations',
                           f'instances_{split}2017.json'), 'w') as f:
            json.dump(coco, f)


def _ade_texture(rng: np.random.Generator, label: int,
                 size: int) -> np.ndarray:
    """Stripes in the class colour: each class has its own stripe period."""
    colour = np.array(SHAPE_COLOURS[label], np.float32)
    period = 4 + 3 * label
    phase = (np.arange(size)[:, None] + np.arange(size)[None, :] +
             rng.integers(period))
    stripes = ((phase // period) % 2).astype(np.float32)[..., None]
    return colour * (0.75 + 0.25 * stripes)


def _write_ade(root: str, splits: Dict[str, int], size: int,
               seed: int) -> None:
    rng = np.random.default_rng(seed)
    for split, count in splits.items():
        image_dir = osp.join(root, 'images', split)
        label_dir = osp.join(root, 'annotations', split)
        os.makedirs(image_dir)
        os.makedirs(label_dir)
        for index in range(count):
            image, objects = draw_scene(rng, size)
            label_map = np.ones((size, size), np.uint8)
            for obj in objects:
                texture = _ade_texture(rng, obj.label, size)
                image[obj.mask] = texture[obj.mask].astype(np.uint8)
                label_map[obj.mask] = obj.label + 2
            name = f'ADE_{split}_{index:08d}'
            cv2.imwrite(osp.join(image_dir, name + '.jpg'), image[..., ::-1],
                        [cv2.IMWRITE_JPEG_QUALITY, 95])
            cv2.imwrite(osp.join(label_dir, name + '.png'), label_map)


def _generate(write: Callable[[str, Dict[str, int], int, int], None],
              kind: str, root: str, splits: Dict[str, int], size: int,
              seed: int) -> str:
    """Write a data set into ``root`` unless the same one is already there.

    The set is built in a temporary folder beside ``root`` and renamed into
    place when complete, so an interrupted run leaves nothing half-written.
    An existing ``root`` that was not made with the same settings is never
    overwritten.
    """
    settings = dict(kind=kind, splits=splits, size=size, seed=seed,
                    version=FORMAT_VERSION)
    stamp = osp.join(root, 'synthetic.json')
    if osp.exists(root):
        if osp.isfile(stamp):
            with open(stamp) as f:
                if json.load(f) == settings:
                    return root
        raise FileExistsError(
            f'{root} already exists and was not generated with these '
            f'settings ({settings}); remove it or choose another folder.')
    parent = osp.dirname(osp.abspath(root))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.synthetic-', dir=parent)
    try:
        write(tmp, splits, size, seed)
        with open(osp.join(tmp, 'synthetic.json'), 'w') as f:
            json.dump(settings, f)
        os.rename(tmp, root)
    finally:
        if osp.exists(tmp):
            shutil.rmtree(tmp)
    return root


def make_coco_dataset(root: str, num_train: int = 600, num_val: int = 100,
                      size: int = 256, seed: int = 0) -> str:
    """COCO layout: ``{train,val}2017/`` and
    ``annotations/instances_{train,val}2017.json`` with polygons, boxes and
    areas, categories ``SHAPE_CLASSES``. Returns ``root``."""
    return _generate(_write_coco, 'coco', root,
                     dict(train=num_train, val=num_val), size, seed)


def make_ade_dataset(root: str, num_train: int = 400, num_val: int = 50,
                     size: int = 256, seed: int = 0) -> str:
    """ADE20K layout: ``images/{training,validation}/*.jpg`` and label PNGs
    under ``annotations/`` (0 unlabelled, 1 background, 2.. shapes; use
    ``reduce_zero_label=True`` and classes ``ADE_CLASSES``). Returns
    ``root``."""
    return _generate(_write_ade, 'ade', root,
                     dict(training=num_train, validation=num_val), size, seed)
