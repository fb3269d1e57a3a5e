"""Measure per-image scoring time of each backend on this machine.

    python -m gpu_worker.engine.identity.timing [--backend dlib|insightface|all]
        [--model-dir DIR] [--providers CPUExecutionProvider] [--repeat 20]

The image is scikit-image's astronaut (512x512, one face; scikit-image is a test
dependency). Without ``--model-dir`` the insightface timing uses the tiny built-in pack,
which measures the pipeline's overhead, not a real pack's network.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from PIL import Image

from .loader import BACKENDS, load_face_embedder
from .scoring import require_single_face, score_image
from .tiny_pack import build_tiny_insightface_pack


def time_backend(
    backend: str, image: Image.Image, repeat: int, model_dir: str | None, providers: list[str]
) -> tuple[float, float]:
    """(load seconds, median seconds per scored image)."""
    started = time.perf_counter()
    embedder = load_face_embedder(backend, model_dir=model_dir, providers=providers or None)
    loaded = time.perf_counter() - started
    reference = require_single_face(embedder, image).embedding
    score_image(embedder, image, reference)  # warm-up: lazy sessions, caches
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        score_image(embedder, image, reference)
        samples.append(time.perf_counter() - started)
    return loaded, statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=(*BACKENDS, "all"), default="all")
    parser.add_argument("--model-dir", help="insightface model pack (default: tiny pack)")
    parser.add_argument("--providers", nargs="*", default=["CPUExecutionProvider"])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    from skimage import data

    image = Image.fromarray(data.astronaut())
    backends = BACKENDS if args.backend == "all" else (args.backend,)
    with tempfile.TemporaryDirectory() as scratch:
        for backend in backends:
            model_dir = args.model_dir
            label = backend
            if backend == "insightface" and not model_dir:
                model_dir = str(build_tiny_insightface_pack(scratch))
                label += " (tiny pack)"
            elif backend == "dlib":
                model_dir = None
            loaded, per_image = time_backend(backend, image, args.repeat, model_dir, args.providers)
            print(
                f"{label}: load {loaded * 1000:.0f} ms, score {per_image * 1000:.1f} ms/image "
                f"(512x512, median of {args.repeat})"
            )


if __name__ == "__main__":
    main()
