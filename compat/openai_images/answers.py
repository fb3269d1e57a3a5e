"""OpenAI's answer to an image request: ``{"created", "data": [{"url"|"b64_json",
"revised_prompt"}], "usage", ...}``, built once the request's jobs ended."""

from __future__ import annotations

import time

from core.media import storage_url

from ..images import encoded
from ..outcome import check_ended, made_images
from ..platform import GenerationJob


def images_answer(
    jobs: list[GenerationJob], request_data: dict, *, http_request, input_images: int
) -> dict:
    """The answer for ``jobs`` (raises what check_ended raises when they did not all
    succeed). ``usage`` counts words and images: the platform has no tokens."""
    check_ended(jobs)
    made = made_images(jobs)
    as_base64 = request_data.get("response_format") == "b64_json"
    output_format = request_data.get("output_format") or "png"
    data = []
    for item in made:
        entry = {"revised_prompt": item.prompt}
        if as_base64:
            entry["b64_json"] = encoded(
                item.png_bytes(),
                output_format=output_format,
                compression=request_data.get("output_compression"),
            )
        else:
            entry["url"] = storage_url(item.image.file.name, http_request)
        data.append(entry)
    words = len(request_data.get("prompt", "").split())
    size = f"{made[0].image.width}x{made[0].image.height}" if made else ""
    return {
        "created": int(time.time()),
        "data": data,
        "usage": {
            "input_tokens": words + input_images,
            "input_tokens_details": {"text_tokens": words, "image_tokens": input_images},
            "output_tokens": len(made),
            "total_tokens": words + input_images + len(made),
        },
        "size": size,
        "quality": request_data.get("quality"),
        "output_format": output_format if as_base64 else "png",
        "background": "opaque",
    }
