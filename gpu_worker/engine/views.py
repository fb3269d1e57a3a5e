"""Which diffusers pipeline a run calls: a view of the warm SDXL pipeline (its modules, no
copies) of the class for the run's kind (text, img2img, inpaint) and its controls."""

from __future__ import annotations

from .controlnet import PreparedControls, build_view


def pipeline_view(base_pipeline, kind: str, controls: PreparedControls | None):
    """A fresh view per run: what a run sets on it (a scheduler, given IP-Adapter embeddings)
    never sticks to the warm pipeline."""
    from diffusers import (
        StableDiffusionXLControlNetImg2ImgPipeline,
        StableDiffusionXLControlNetInpaintPipeline,
        StableDiffusionXLControlNetUnionImg2ImgPipeline,
        StableDiffusionXLControlNetUnionInpaintPipeline,
        StableDiffusionXLImg2ImgPipeline,
        StableDiffusionXLInpaintPipeline,
    )

    if controls is None:
        plain = {
            "text": type(base_pipeline),
            "img2img": StableDiffusionXLImg2ImgPipeline,
            "inpaint": StableDiffusionXLInpaintPipeline,
        }
        return build_view(base_pipeline, plain[kind])
    if kind == "text":
        return build_view(base_pipeline, controls.pipeline_class, controlnet=controls.controlnet)
    union = controls.pipeline_class.__name__.endswith("UnionPipeline")
    classes = {
        ("img2img", False): StableDiffusionXLControlNetImg2ImgPipeline,
        ("inpaint", False): StableDiffusionXLControlNetInpaintPipeline,
        ("img2img", True): StableDiffusionXLControlNetUnionImg2ImgPipeline,
        ("inpaint", True): StableDiffusionXLControlNetUnionInpaintPipeline,
    }
    return build_view(base_pipeline, classes[(kind, union)], controlnet=controls.controlnet)
