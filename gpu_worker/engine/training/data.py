"""Training images: aspect-ratio buckets, face-centred crops, a deterministic batch order.

SDXL was trained on buckets of about resolution**2 pixels with sides in multiples of 64;
training on the same buckets keeps portraits portrait instead of cropping them square."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

_BUCKET_STEP = 64
_MAX_ASPECT = 2.0


def buckets(resolution: int) -> list[tuple[int, int]]:
    """(width, height) pairs with about resolution**2 pixels, sides multiples of 64."""
    area = resolution * resolution
    found = set()
    width = _BUCKET_STEP
    while width <= resolution * _MAX_ASPECT:
        height = int(area / width) // _BUCKET_STEP * _BUCKET_STEP
        if height >= _BUCKET_STEP and 1 / _MAX_ASPECT <= width / height <= _MAX_ASPECT:
            found.add((width, height))
            found.add((height, width))
        width += _BUCKET_STEP
    found.add((resolution, resolution))
    return sorted(found)


def bucket_for(size: tuple[int, int], resolution: int) -> tuple[int, int]:
    """The bucket whose aspect ratio is closest to the image's (ties: the larger one)."""
    aspect = math.log(size[0] / size[1])
    return min(
        buckets(resolution),
        key=lambda wh: (abs(math.log(wh[0] / wh[1]) - aspect), -wh[0] * wh[1]),
    )


def prepare_image(
    image: Image.Image,
    target: tuple[int, int],
    face_box: tuple[float, float, float, float] | None = None,
) -> tuple[Image.Image, tuple[int, int]]:
    """Resize to cover ``target`` and crop to it, centred on the face when one is given.

    Returns the crop and its top-left offset (SDXL's crop conditioning)."""
    image = image.convert("RGB")
    width, height = target
    scale = max(width / image.width, height / image.height)
    resized = image.resize(
        (max(width, round(image.width * scale)), max(height, round(image.height * scale))),
        Image.Resampling.LANCZOS,
    )
    if face_box is not None:
        centre_x = (face_box[0] + face_box[2]) / 2 * scale
        centre_y = (face_box[1] + face_box[3]) / 2 * scale
    else:
        centre_x, centre_y = resized.width / 2, resized.height / 2
    left = int(min(max(centre_x - width / 2, 0), resized.width - width))
    top = int(min(max(centre_y - height / 2, 0), resized.height - height))
    return resized.crop((left, top, left + width, top + height)), (top, left)


def face_crop_box(
    image_size: tuple[int, int], face_box: tuple[float, float, float, float], margin: float = 1.6
) -> tuple[int, int, int, int]:
    """A region around the face, ``margin`` face sizes on each side (head and shoulders),
    clipped to the image; training on it keeps the face large in the frame."""
    x0, y0, x1, y1 = face_box
    side = max(x1 - x0, y1 - y0) * (1 + 2 * margin)
    centre_x, centre_y = (x0 + x1) / 2, (y0 + y1) / 2
    left, top = max(0, int(centre_x - side / 2)), max(0, int(centre_y - side / 2))
    right = min(image_size[0], int(centre_x + side / 2))
    bottom = min(image_size[1], int(centre_y + side / 2))
    return left, top, right, bottom


def batch_schedule(
    bucket_of: list[tuple[int, int]], batch_size: int, steps: int, seed: int
) -> list[list[int]]:
    """Image indices for each step: every epoch shuffles each bucket and the batches, all
    from ``seed``, so step N always sees the same images (a resumed run included)."""
    by_bucket: dict[tuple[int, int], list[int]] = {}
    for index, bucket in enumerate(bucket_of):
        by_bucket.setdefault(bucket, []).append(index)
    schedule: list[list[int]] = []
    epoch = 0
    while len(schedule) < steps:
        rng = np.random.default_rng([seed, epoch])
        batches = []
        for bucket in sorted(by_bucket):
            members = [by_bucket[bucket][i] for i in rng.permutation(len(by_bucket[bucket]))]
            batches += [members[i : i + batch_size] for i in range(0, len(members), batch_size)]
        schedule += [batches[i] for i in rng.permutation(len(batches))]
        epoch += 1
    return schedule[:steps]
