"""Editing modes on the tiny models: img2img, inpaint, upscale (Lanczos and tiled) and face
repair, all on the engine's one warm pipeline."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from gpu_worker.engine.errors import InvalidSpec
from gpu_worker.engine.face_loop import detect_face_boxes, repair_until_accepted
from gpu_worker.engine.identity import load_face_embedder
from gpu_worker.engine.masks import prepare_mask, rect_mask
from gpu_worker.engine.spec import LoraSpec
from gpu_worker.engine.tiles import process_in_tiles, tile_boxes
from tests import photos
from tests.fixtures.engine import SIZE, pattern_image


def as_array(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def test_strength_zero_returns_the_source(engine, make_spec):
    source = pattern_image(3, SIZE)
    for mode, extra in (
        ("img2img", {}),
        ("inpaint", {"mask": rect_mask(source.size, (8, 8, 16, 16))}),
    ):
        result = engine.generate(make_spec(mode=mode, source=source, strength=0.0, **extra))
        assert np.array_equal(as_array(result.images[0].image), as_array(source))
        assert result.images[0].manifest["edit"]["steps_run"] == 0


def test_img2img_keeps_the_source_size_and_reuses_the_warm_pipeline(engine, make_spec):
    source = pattern_image(4, 72).crop((0, 0, 72, 60))  # not a multiple of 8 on purpose
    engine.warm(make_spec().model)
    warm_before = dict(engine.pipelines.items())
    steps = []
    spec = make_spec(
        mode="img2img", source=source, width=72, height=60, strength=0.6, steps=5, seeds=(1, 2)
    )
    result = engine.generate(spec, on_step=lambda step, total: steps.append((step, total)))
    assert [output.image.size for output in result.images] == [(72, 60), (72, 60)]
    assert dict(engine.pipelines.items()) == warm_before  # no pipeline (re)loaded
    assert steps[-1] == (3, 3)  # int(5 * 0.6) steps run
    changed = np.abs(as_array(result.images[0].image) - as_array(source)).max()
    assert changed > 10
    again = engine.generate(spec)
    assert np.array_equal(as_array(again.images[1].image), as_array(result.images[1].image))
    assert result.images[0].manifest["edit"]["mode"] == "img2img"


def test_img2img_applies_loras(engine, make_spec, tiny_models):
    source = pattern_image(5)
    plain = engine.generate(make_spec(mode="img2img", source=source, strength=0.8))
    styled = engine.generate(
        make_spec(
            mode="img2img",
            source=source,
            strength=0.8,
            loras=(LoraSpec(str(tiny_models["lora_a"]), 1.0),),
        )
    )
    assert np.abs(as_array(plain.images[0].image) - as_array(styled.images[0].image)).max() > 0


def test_inpaint_changes_only_the_masked_region(engine, make_spec):
    source = pattern_image(6)
    rect = (24, 24, 16, 16)
    blur, padding = 2, 3
    result = engine.generate(
        make_spec(
            mode="inpaint",
            source=source,
            mask=rect_mask(source.size, rect),
            mask_blur=blur,
            mask_padding=padding,
            strength=1.0,
        )
    )
    out, original = as_array(result.images[0].image), as_array(source)
    grown = np.asarray(prepare_mask(rect_mask(source.size, rect), padding=padding, blur=blur))
    outside = grown == 0
    assert outside.sum() > 0.6 * SIZE * SIZE
    assert np.abs(out - original)[outside].max() <= 1  # within 1/255 after the composite
    inside = np.asarray(rect_mask(source.size, rect)) == 255
    assert np.abs(out - original)[inside].mean() > 10


def test_a_mask_of_another_size_is_refused(engine, make_spec):
    source = pattern_image(7)
    with pytest.raises(InvalidSpec, match="same size"):
        engine.generate(
            make_spec(mode="inpaint", source=source, mask=rect_mask((32, 32), (0, 0, 8, 8)))
        )


def test_lanczos_upscale_is_exactly_pil_lanczos(engine, make_spec):
    source = pattern_image(8)
    result = engine.generate(
        make_spec(
            mode="upscale", source=source, scale=4, width=256, height=256, upscale_method="lanczos"
        )
    )
    expected = source.resize((256, 256), Image.Resampling.LANCZOS)
    assert np.array_equal(as_array(result.images[0].image), as_array(expected))


def test_tiled_upscale_runs_every_tile_and_doubles_the_size(engine, make_spec):
    source = pattern_image(9)
    steps = []
    result = engine.generate(
        make_spec(
            mode="upscale", source=source, width=128, height=128, strength=0.5, steps=2,
            tile_size=64, tile_overlap=16,
        ),
        on_step=lambda step, total: steps.append((step, total)),
    )  # fmt: skip
    image = result.images[0].image
    assert image.size == (128, 128)
    edit = result.images[0].manifest["edit"]
    assert edit["tiles"] == len(tile_boxes(128, 128, 64, 16)) == 9
    assert steps[-1] == (9, 9)  # one step per tile
    lanczos = source.resize((128, 128), Image.Resampling.LANCZOS)
    assert np.abs(as_array(image) - as_array(lanczos)).mean() > 1  # the model repainted it


def test_tiles_cover_the_image_with_the_overlap():
    boxes = tile_boxes(4096, 4096, 1024, 128)
    covered = np.zeros((4096, 4096), dtype=bool)
    for x0, y0, x1, y1 in boxes:
        assert (x1 - x0, y1 - y0) == (1024, 1024)
        covered[y0:y1, x0:x1] = True
    assert covered.all() and len(boxes) == 25
    starts = sorted({box[0] for box in boxes})
    assert all(b - a <= 1024 - 128 for a, b in zip(starts, starts[1:], strict=False))


def test_blending_hides_seams_between_tiles():
    """Tiles that come back brightened by different amounts would show hard edges if pasted;
    blended, no step between neighbouring pixels exceeds the offset spread over the overlap."""
    flat = Image.new("RGB", (160, 160), (100, 100, 100))
    offsets = [0, 60, 20, 80, 40, 10, 70, 30, 50]

    def brighten(index: int, tile: Image.Image) -> Image.Image:
        return Image.fromarray((np.asarray(tile, dtype=np.int16) + offsets[index]).astype(np.uint8))

    blended = as_array(process_in_tiles(flat, brighten, tile=64, overlap=16))
    steps = max(np.abs(np.diff(blended, axis=0)).max(), np.abs(np.diff(blended, axis=1)).max())
    assert steps <= 10  # pasted without blending: jumps of up to 80
    # An identity tile function gives back the image exactly: the weights sum to one.
    same = process_in_tiles(pattern_image(1, 160), lambda i, tile: tile, tile=64, overlap=16)
    assert np.array_equal(as_array(same), as_array(pattern_image(1, 160)))


@pytest.fixture(scope="module")
def dlib():
    return load_face_embedder("dlib")


def test_face_repair_repaints_the_face_and_nothing_far_from_it(engine, make_spec, dlib):
    source = photos.astronaut()
    boxes = detect_face_boxes(dlib, source)
    assert len(boxes) == 1
    result = engine.generate(
        make_spec(
            mode="face_repair", source=source, width=512, height=512, face_boxes=boxes,
            repair_size=128, strength=1.0,
        )
    )  # fmt: skip
    out, original = as_array(result.images[0].image), as_array(source)
    [record] = result.images[0].manifest["edit"]["faces"]
    x0, y0, x1, y1 = record["crop"]
    outside = np.ones(original.shape[:2], dtype=bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(out[outside], original[outside])
    fx0, fy0, fx1, fy1 = boxes[0]
    assert np.abs(out - original)[fy0:fy1, fx0:fx1].mean() > 10


def test_face_repair_without_a_face_is_refused(engine, make_spec):
    with pytest.raises(InvalidSpec, match="No face"):
        engine.generate(make_spec(mode="face_repair", source=pattern_image(2)))


def test_repair_loop_records_every_pass_and_keeps_an_accepted_one(engine, make_spec, dlib):
    scores = iter([0.2, 0.9])
    image, score, passes = repair_until_accepted(
        engine,
        make_spec(repair_size=128),
        photos.astronaut(),
        seed=5,
        embedder=dlib,
        score=lambda repaired: next(scores),
        threshold=0.5,
        max_passes=3,
    )
    assert [(p["pass"], p["score"], p["accepted"]) for p in passes] == [
        (1, 0.2, False),
        (2, 0.9, True),
    ]
    assert score == 0.9 and image.size == (512, 512)
    assert not np.array_equal(as_array(image), as_array(photos.astronaut()))


@pytest.mark.parametrize("controlnet", ["controlnet", "controlnet_union"])
def test_img2img_and_inpaint_take_controlnets(engine, make_spec, tiny_models, controlnet):
    from gpu_worker.engine.spec import ControlSpec

    source = pattern_image(10)
    control = ControlSpec(
        image=pattern_image(11), model=str(tiny_models[controlnet]), kind="canny", scale=1.0
    )
    for mode, extra in (
        ("img2img", {}),
        ("inpaint", {"mask": rect_mask(source.size, (8, 8, 32, 32))}),
    ):
        plain = engine.generate(make_spec(mode=mode, source=source, strength=0.8, **extra))
        controlled = engine.generate(
            make_spec(mode=mode, source=source, strength=0.8, controls=(control,), **extra)
        )
        assert len(controlled.conditioning_images) == 1
        assert controlled.images[0].manifest["controls"][0]["kind"] == "canny"
        difference = np.abs(as_array(plain.images[0].image) - as_array(controlled.images[0].image))
        assert difference.max() > 0, mode


def test_img2img_uses_ip_adapter_references(engine, make_spec):
    source = pattern_image(12)
    plain = engine.generate(make_spec(mode="img2img", source=source, strength=0.8))
    referenced = engine.generate(
        make_spec(
            mode="img2img",
            source=source,
            strength=0.8,
            ip_adapter_images=(pattern_image(13),),
            ip_adapter_scale=1.0,
        )
    )
    assert "ip_adapter" in referenced.images[0].manifest
    difference = np.abs(as_array(plain.images[0].image) - as_array(referenced.images[0].image))
    assert difference.max() > 0


def test_a_cancel_stops_a_tiled_upscale_between_tiles(engine, make_spec):
    from gpu_worker.engine.errors import GenerationCancelled

    seen = []

    def cancel_at_third_step(step: int, total: int) -> None:
        seen.append(step)
        if step == 3:
            raise GenerationCancelled("cancelled")

    with pytest.raises(GenerationCancelled):
        engine.generate(
            make_spec(
                mode="upscale", source=pattern_image(14), width=128, height=128, strength=0.5,
                steps=2, tile_size=64, tile_overlap=16,
            ),
            on_step=cancel_at_third_step,
        )  # fmt: skip
    assert seen == [1, 2, 3]  # 9 tiles were due; the fourth never started
