"""ControlNet preprocessors: size, mode and the kind of picture each one draws."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

from gpu_worker.engine.preprocessors import (
    KINDS,
    PreprocessorModelUnavailable,
    preprocess,
)
from gpu_worker.engine.preprocessors.depth import (
    load_depth_model,
    nearness,
    normal_from_depth,
)
from gpu_worker.engine.preprocessors.errors import UnknownPreprocessor
from gpu_worker.engine.preprocessors.openpose import COLORS
from gpu_worker.engine.preprocessors.sizing import fit_image
from gpu_worker.engine.preprocessors.tiny_depth import build_tiny_depth_model

WIDTH, HEIGHT = 320, 256


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    """A public-domain photo of a person (upper body), 512x512."""
    return Image.fromarray(data.astronaut())


@pytest.fixture(scope="module")
def empty_scene() -> Image.Image:
    """No person: a smooth grey gradient."""
    ramp = np.tile(np.linspace(60, 200, 256, dtype=np.uint8), (256, 1))
    return Image.fromarray(np.stack([ramp] * 3, axis=-1))


@pytest.fixture(scope="module")
def depth_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_tiny_depth_model(tmp_path_factory.mktemp("tiny-depth")))


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image)


def assert_shape(image: Image.Image) -> None:
    assert image.mode == "RGB"
    assert image.size == (WIDTH, HEIGHT)


# --- sizing -------------------------------------------------------------------------------


def test_cover_fills_the_frame_and_contain_letterboxes() -> None:
    wide = Image.new("RGB", (400, 100), (255, 255, 255))

    covered = pixels(fit_image(wide, 200, 200, "cover"))
    contained = pixels(fit_image(wide, 200, 200, "contain"))

    assert covered.shape == contained.shape == (200, 200, 3)
    assert covered.min() == 255  # cropped, no bars
    assert contained[:40].max() == 0 and contained[-40:].max() == 0  # black bars
    assert contained[100].min() == 255  # the photo in the middle


def test_exif_rotation_and_transparency_are_normalised() -> None:
    transparent = Image.new("RGBA", (64, 32), (0, 0, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    transparent.info["exif"] = exif.tobytes()

    fitted = fit_image(transparent, 32, 64, "contain")

    # Upright, the 64x32 photo becomes 32x64 and fills a 32x64 frame with no bars;
    # transparent pixels are flattened onto white, not black.
    assert fitted.mode == "RGB"
    assert pixels(fitted).min() == 255


# --- classical edges ----------------------------------------------------------------------


def test_canny_is_binary_with_edges_on_a_photo(astronaut: Image.Image) -> None:
    result = preprocess("canny", astronaut, width=WIDTH, height=HEIGHT)

    assert_shape(result)
    values = pixels(result)
    assert set(np.unique(values)) == {0, 255}
    assert (values[..., 0] == values[..., 1]).all() and (values[..., 1] == values[..., 2]).all()
    assert 0.01 < (values[..., 0] == 255).mean() < 0.3


def test_canny_thresholds_change_the_edges(astronaut: Image.Image) -> None:
    default = pixels(preprocess("canny", astronaut, width=WIDTH, height=HEIGHT))
    strict = pixels(
        preprocess(
            "canny", astronaut, width=WIDTH, height=HEIGHT, low_threshold=300, high_threshold=600
        )
    )

    assert (strict == 255).sum() < (default == 255).sum() / 2


def test_scribble_strokes_are_binary_and_thicker_than_canny(astronaut: Image.Image) -> None:
    edges = pixels(preprocess("canny", astronaut, width=WIDTH, height=HEIGHT))[..., 0]
    strokes = pixels(preprocess("scribble", astronaut, width=WIDTH, height=HEIGHT))
    assert_shape(Image.fromarray(strokes))
    assert set(np.unique(strokes)) == {0, 255}

    # A 3x3 erosion wipes out 1-px edges but leaves the core of strokes 3 px wide or more.
    kernel = np.ones((3, 3), np.uint8)
    stroke_mask = strokes[..., 0]
    assert cv2.erode(stroke_mask, kernel).sum() > 0.15 * stroke_mask.sum()
    assert cv2.erode(edges, kernel).sum() < 0.05 * edges.sum()
    assert stroke_mask.sum() > 2 * edges.sum()


# --- depth and normals --------------------------------------------------------------------


def test_depth_loads_the_tiny_model_and_varies(astronaut: Image.Image, depth_model: str) -> None:
    result = preprocess("depth", astronaut, width=WIDTH, height=HEIGHT, model=depth_model)

    assert_shape(result)
    values = pixels(result).astype(int)
    assert (values[..., 0] == values[..., 1]).all() and (values[..., 1] == values[..., 2]).all()
    assert values.max() == 255 and values.min() == 0  # normalised to the full range
    assert values.std() > 10


def test_depth_depends_on_the_photo(astronaut: Image.Image, depth_model: str) -> None:
    mirrored = astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT)

    first = pixels(preprocess("depth", astronaut, width=WIDTH, height=HEIGHT, model=depth_model))
    second = pixels(preprocess("depth", mirrored, width=WIDTH, height=HEIGHT, model=depth_model))

    assert np.abs(first.astype(int) - second.astype(int)).mean() > 5


def test_depth_model_is_loaded_once_per_process(depth_model: str) -> None:
    assert load_depth_model(depth_model, "cpu") is load_depth_model(depth_model, "cpu")


def test_metric_depth_is_inverted_so_near_is_bright() -> None:
    metres = np.array([[1.0, 2.0, 10.0]])

    assert nearness(metres, metric=True).argmax() == 0  # 1 m away is nearest
    assert nearness(metres, metric=False).argmax() == 2  # relative models: large is near


@pytest.mark.parametrize("model", ["/nonexistent/depth-model", "", None])
def test_missing_depth_model_names_the_setting(astronaut: Image.Image, model: str | None) -> None:
    with pytest.raises(PreprocessorModelUnavailable, match="ILLU_DEPTH_MODEL"):
        preprocess("depth", astronaut, width=WIDTH, height=HEIGHT, model=model)


def test_normal_of_flat_depth_faces_the_camera() -> None:
    flat = normal_from_depth(np.full((64, 64), 0.5, dtype=np.float32))

    assert (flat[..., 0] == 128).all() and (flat[..., 1] == 128).all()
    assert (flat[..., 2] == 255).all()


def test_normal_of_a_slope_tilts_one_channel() -> None:
    slope = np.tile(np.linspace(0.2, 1.0, 64, dtype=np.float32), (64, 1))  # nearer to the right

    normals = normal_from_depth(slope)[8:-8, 8:-8].astype(int)

    assert normals[..., 0].mean() > 150  # x slope shows in red
    assert abs(normals[..., 1].mean() - 128) <= 1  # no y slope
    assert 128 < normals[..., 2].mean() < 255  # still facing the camera, less directly


def test_normal_from_the_depth_model(astronaut: Image.Image, depth_model: str) -> None:
    result = preprocess("normal", astronaut, width=WIDTH, height=HEIGHT, model=depth_model)

    assert_shape(result)
    values = pixels(result)
    assert values[..., 2].min() >= 128  # every normal points towards the viewer
    assert values[..., :2].std() > 1  # the random depth has slopes


# --- MediaPipe: segmentation and pose -----------------------------------------------------


def test_segmentation_masks_the_astronaut(astronaut: Image.Image) -> None:
    result = preprocess("segmentation", astronaut, width=WIDTH, height=HEIGHT)

    assert_shape(result)
    assert result.info["person_detected"] is True
    values = pixels(result).reshape(-1, 3)
    person = (values == (150, 5, 61)).all(axis=1)
    black = (values == 0).all(axis=1)
    assert (person | black).all()  # only the ADE20K person colour on black
    assert 0.2 < person.mean() < 0.9


def test_segmentation_mask_style_is_white_on_black(astronaut: Image.Image) -> None:
    result = preprocess("segmentation", astronaut, width=WIDTH, height=HEIGHT, style="mask")

    assert set(np.unique(pixels(result))) == {0, 255}


def test_segmentation_without_a_person_is_black(empty_scene: Image.Image) -> None:
    result = preprocess("segmentation", empty_scene, width=WIDTH, height=HEIGHT)

    assert result.info["person_detected"] is False
    assert pixels(result).max() == 0


def test_pose_draws_an_openpose_skeleton(astronaut: Image.Image) -> None:
    result = preprocess("pose", astronaut, width=WIDTH, height=HEIGHT)

    assert_shape(result)
    assert result.info["person_detected"] is True
    values = pixels(result).reshape(-1, 3)
    drawn = values.any(axis=1)
    assert 0.002 < drawn.mean() < 0.2  # a skeleton on a mostly black canvas
    joint_colours = {c for c in COLORS if (values == c).all(axis=1).any()}
    assert len(joint_colours) >= 8  # head and arm joints, each in its OpenPose colour
    assert (255, 0, 0) in joint_colours  # the nose


def test_pose_without_a_person_is_black(empty_scene: Image.Image) -> None:
    result = preprocess("pose", empty_scene, width=WIDTH, height=HEIGHT)

    assert_shape(result)
    assert result.info["person_detected"] is False
    assert pixels(result).max() == 0


# --- registry -----------------------------------------------------------------------------


def test_unknown_kind_names_it_and_the_valid_kinds(astronaut: Image.Image) -> None:
    with pytest.raises(ValueError, match="'lineart'") as raised:
        preprocess("lineart", astronaut, width=WIDTH, height=HEIGHT)

    assert isinstance(raised.value, UnknownPreprocessor)
    for kind in KINDS:
        assert kind in str(raised.value)


def test_every_kind_is_registered() -> None:
    assert set(KINDS) == {"canny", "scribble", "depth", "normal", "segmentation", "pose"}
