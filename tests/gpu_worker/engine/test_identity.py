"""Face identity backends: dlib on real photos, insightface wiring on a tiny built pack."""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps
from skimage import data

from gpu_worker.engine.identity import (
    INSIGHTFACE_MODEL_DIR_SETTING,
    FaceCountError,
    FaceEmbedder,
    IdentityModelUnavailable,
    ScoreResult,
    load_face_embedder,
    reference_embedding,
    require_single_face,
    score_image,
)
from gpu_worker.engine.identity.dlib_backend import TYPICAL_DESCRIPTOR_LENGTH, dlib_similarity
from gpu_worker.engine.identity.insightface_backend import cosine_similarity
from gpu_worker.engine.identity.tiny_pack import (
    DETECTOR_FILE,
    EMBEDDING_SIZE,
    RECOGNIZER_FILE,
    build_tiny_insightface_pack,
)

# Where dlib finds the astronaut's face in skimage.data.astronaut() (x0, y0, x1, y1).
ASTRONAUT_FACE = (179, 83, 266, 170)


def insightface_sample(name: str) -> Image.Image:
    """Photos shipped inside the insightface package (other people than the astronaut)."""
    with resources.as_file(resources.files("insightface") / "data" / "images" / name) as path:
        return Image.open(path).convert("RGB")


def assert_unit_embedding(embedding: np.ndarray, size: int) -> None:
    assert embedding.dtype == np.float32
    assert embedding.shape == (size,)
    assert math.isclose(float(np.linalg.norm(embedding)), 1.0, abs_tol=1e-5)


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    return Image.fromarray(data.astronaut())


@pytest.fixture(scope="module")
def dlib_embedder() -> FaceEmbedder:
    return load_face_embedder("dlib")


@pytest.fixture(scope="module")
def astronaut_reference(dlib_embedder: FaceEmbedder, astronaut: Image.Image) -> np.ndarray:
    return require_single_face(dlib_embedder, astronaut).embedding


@pytest.fixture(scope="module")
def tiny_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_insightface_pack(tmp_path_factory.mktemp("insightface") / "tiny")


@pytest.fixture(scope="module")
def tiny_embedder(tiny_pack: Path) -> FaceEmbedder:
    return load_face_embedder(
        "insightface", model_dir=tiny_pack, providers=["CPUExecutionProvider"]
    )


# --- scoring helpers, backend-free ---------------------------------------------------------


def test_reference_embedding_is_the_normalized_mean() -> None:
    reference = reference_embedding([np.array([3.0, 0.0]), np.array([0.0, 0.5])])
    assert np.allclose(reference, [math.sqrt(0.5), math.sqrt(0.5)])
    assert reference.dtype == np.float32


def test_reference_embedding_rejects_empty_and_mixed_inputs() -> None:
    with pytest.raises(ValueError, match="at least one"):
        reference_embedding([])
    with pytest.raises(ValueError, match="shapes differ"):
        reference_embedding([np.ones(128), np.ones(512)])


def test_dlib_calibration_maps_distance_0_6_to_one_half() -> None:
    # Two unit vectors whose distance, scaled to raw dlib descriptors, is exactly 0.6.
    unit_distance = 0.6 / TYPICAL_DESCRIPTOR_LENGTH
    angle = 2 * math.asin(unit_distance / 2)
    a, b = np.array([1.0, 0.0]), np.array([math.cos(angle), math.sin(angle)])
    assert dlib_similarity(a, b) == pytest.approx(0.5)
    assert dlib_similarity(a, a) > 0.99
    assert dlib_similarity(a, -a) < 0.01


def test_insightface_similarity_is_clipped_cosine() -> None:
    a = np.array([1.0, 0.0])
    assert cosine_similarity(a, np.array([0.6, 0.8])) == pytest.approx(0.6)
    assert cosine_similarity(a, np.array([-1.0, 0.0])) == 0.0
    assert cosine_similarity(a, a * 5) == pytest.approx(1.0)


def test_unknown_backend_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown face identity backend"):
        load_face_embedder("facenet")


# --- dlib on real photos -------------------------------------------------------------------


def test_dlib_loader_is_cached_per_process(dlib_embedder: FaceEmbedder) -> None:
    assert load_face_embedder("dlib") is dlib_embedder
    assert dlib_embedder.name == "dlib"


def test_dlib_finds_the_astronaut_face(dlib_embedder: FaceEmbedder, astronaut) -> None:
    face = require_single_face(dlib_embedder, astronaut)
    assert_unit_embedding(face.embedding, 128)
    x0, y0, x1, y1 = face.bbox
    center = ((x0 + x1) / 2, (y0 + y1) / 2)
    expected = (
        (ASTRONAUT_FACE[0] + ASTRONAUT_FACE[2]) / 2,
        (ASTRONAUT_FACE[1] + ASTRONAUT_FACE[3]) / 2,
    )
    assert math.dist(center, expected) < 20
    assert face.det_score > 0.5


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(ImageOps.mirror, id="mirrored"),
        pytest.param(lambda im: ImageEnhance.Brightness(im).enhance(1.3), id="brightened"),
        pytest.param(lambda im: im.resize((256, 256), Image.BICUBIC), id="half-size"),
        pytest.param(lambda im: im.resize((1024, 1024), Image.BICUBIC), id="double-size"),
    ],
)
def test_dlib_same_face_altered_still_matches(
    dlib_embedder: FaceEmbedder, astronaut, astronaut_reference, variant
) -> None:
    result = score_image(dlib_embedder, variant(astronaut), astronaut_reference)
    assert result.faces == 1
    assert result.score is not None
    assert result.score > 0.8 > dlib_embedder.match_threshold


def test_dlib_other_people_do_not_match(dlib_embedder: FaceEmbedder, astronaut_reference) -> None:
    tom_hanks = score_image(
        dlib_embedder, insightface_sample("Tom_Hanks_54745.png"), astronaut_reference
    )
    assert tom_hanks.faces == 1
    assert tom_hanks.score is not None
    assert tom_hanks.score < dlib_embedder.match_threshold

    group = dlib_embedder.detect(insightface_sample("t1.jpg"))
    assert len(group) >= 4
    scores = [dlib_embedder.similarity(face.embedding, astronaut_reference) for face in group]
    assert max(scores) < dlib_embedder.match_threshold


def test_dlib_people_in_a_group_are_told_apart(dlib_embedder: FaceEmbedder) -> None:
    group = dlib_embedder.detect(insightface_sample("t1.jpg"))
    for i, face in enumerate(group):
        others = [dlib_embedder.similarity(face.embedding, o.embedding) for o in group[i + 1 :]]
        assert all(score < dlib_embedder.match_threshold for score in others)


@pytest.mark.parametrize("name", ["chelsea", "coffee"])
def test_dlib_face_free_image_has_no_face(
    dlib_embedder: FaceEmbedder, astronaut_reference, name: str
) -> None:
    image = Image.fromarray(getattr(data, name)())
    assert score_image(dlib_embedder, image, astronaut_reference) == ScoreResult(None, 0)
    with pytest.raises(FaceCountError, match="no face found") as caught:
        require_single_face(dlib_embedder, image)
    assert caught.value.count == 0


def test_dlib_two_faces_are_rejected_as_reference(
    dlib_embedder: FaceEmbedder, astronaut, astronaut_reference
) -> None:
    canvas = Image.new("RGB", (1024, 512))
    canvas.paste(astronaut, (0, 0))
    canvas.paste(ImageOps.mirror(astronaut), (512, 0))
    with pytest.raises(FaceCountError, match="2 faces found") as caught:
        require_single_face(dlib_embedder, canvas)
    assert caught.value.count == 2
    result = score_image(dlib_embedder, canvas, astronaut_reference)
    assert result.faces == 2
    assert result.score is not None and result.score > 0.9


def test_dlib_reference_from_several_photos_matches_each(
    dlib_embedder: FaceEmbedder, astronaut
) -> None:
    photos = [astronaut, ImageOps.mirror(astronaut), astronaut.resize((300, 300))]
    reference = reference_embedding(require_single_face(dlib_embedder, p).embedding for p in photos)
    assert_unit_embedding(reference, 128)
    for photo in photos:
        assert score_image(dlib_embedder, photo, reference).score > 0.9
    stranger = score_image(dlib_embedder, insightface_sample("Tom_Hanks_54745.png"), reference)
    assert stranger.score < dlib_embedder.match_threshold


# --- insightface through the production loader, on the tiny pack ----------------------------


def test_tiny_pack_models_are_routed_like_a_real_pack(tiny_pack: Path) -> None:
    from insightface.model_zoo import get_model

    detector = get_model(str(tiny_pack / DETECTOR_FILE), providers=["CPUExecutionProvider"])
    recognizer = get_model(str(tiny_pack / RECOGNIZER_FILE), providers=["CPUExecutionProvider"])
    assert (detector.taskname, type(detector).__name__) == ("detection", "SCRFD")
    assert detector.use_kps and detector.fmc == 3
    assert (recognizer.taskname, recognizer.input_size) == ("recognition", (112, 112))


def test_insightface_detects_and_embeds_one_face(tiny_embedder: FaceEmbedder, astronaut) -> None:
    assert tiny_embedder.name == "insightface"
    face = require_single_face(tiny_embedder, astronaut)
    assert_unit_embedding(face.embedding, EMBEDDING_SIZE)
    assert face.det_score > 0.9
    # Same pixels, same embedding; other pixels, another embedding.
    again = require_single_face(tiny_embedder, astronaut.copy())
    assert tiny_embedder.similarity(face.embedding, again.embedding) == pytest.approx(1.0)
    other = require_single_face(tiny_embedder, ImageOps.mirror(astronaut))
    assert tiny_embedder.similarity(face.embedding, other.embedding) < 0.99


def test_insightface_box_follows_the_detection_in_image_pixels(tiny_embedder) -> None:
    # The tiny detector's face is the brightest block: put one at a known spot on a
    # non-square image, so the letterbox rescaling back to image pixels is exercised.
    canvas = Image.new("RGB", (800, 400))
    canvas.paste((255, 255, 255), (600, 200, 660, 260))
    face = require_single_face(tiny_embedder, canvas)
    x0, y0, x1, y1 = face.bbox
    assert math.dist(((x0 + x1) / 2, (y0 + y1) / 2), (630, 230)) < 40
    assert (x1 - x0) == pytest.approx(128 * 800 / 640, rel=0.01)


def test_insightface_blank_image_has_no_face(tiny_embedder, astronaut) -> None:
    reference = require_single_face(tiny_embedder, astronaut).embedding
    assert score_image(tiny_embedder, Image.new("RGB", (300, 200)), reference).faces == 0
    with pytest.raises(FaceCountError, match="no face found"):
        require_single_face(tiny_embedder, Image.new("RGB", (300, 200)))


def test_insightface_loader_is_cached(tiny_embedder: FaceEmbedder, tiny_pack: Path) -> None:
    same = load_face_embedder(
        "insightface", model_dir=str(tiny_pack), providers=["CPUExecutionProvider"]
    )
    assert same is tiny_embedder


def test_insightface_missing_pack_names_the_setting_and_downloads_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # where insightface would download to
    monkeypatch.delenv(INSIGHTFACE_MODEL_DIR_SETTING, raising=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    for model_dir in (tmp_path / "absent", empty, None):
        with pytest.raises(IdentityModelUnavailable, match=INSIGHTFACE_MODEL_DIR_SETTING):
            load_face_embedder("insightface", model_dir=model_dir)
    assert not (tmp_path / ".insightface").exists()


def test_insightface_reads_the_pack_dir_from_the_environment(
    tiny_embedder: FaceEmbedder, tiny_pack: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(INSIGHTFACE_MODEL_DIR_SETTING, str(tiny_pack))
    embedder = load_face_embedder("insightface", providers=["CPUExecutionProvider"])
    assert embedder is tiny_embedder


def test_insightface_pack_without_detector_is_unavailable(tmp_path: Path, tiny_pack) -> None:
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / RECOGNIZER_FILE).write_bytes((tiny_pack / RECOGNIZER_FILE).read_bytes())
    with pytest.raises(IdentityModelUnavailable, match="lacks a detection model"):
        load_face_embedder("insightface", model_dir=partial, providers=["CPUExecutionProvider"])
