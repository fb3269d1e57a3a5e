"""Real photos that ship offline: scikit-image's astronaut (public domain) and sample photos
inside the insightface package; and uploads made from them."""

import io
from importlib import resources

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageOps
from skimage import data


def astronaut() -> Image.Image:
    return Image.fromarray(data.astronaut())


def other_person() -> Image.Image:
    path = resources.files("insightface") / "data" / "images" / "Tom_Hanks_54745.png"
    with resources.as_file(path) as file:
        return Image.open(file).convert("RGB")


def no_face() -> Image.Image:
    return Image.fromarray(data.coffee())


def two_faces() -> Image.Image:
    face = astronaut()
    canvas = Image.new("RGB", (face.width * 2, face.height))
    canvas.paste(face, (0, 0))
    canvas.paste(ImageOps.mirror(face), (face.width, 0))
    return canvas


def upload_of(image: Image.Image, name: str = "photo.png", fmt: str = "PNG") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return SimpleUploadedFile(name, buffer.getvalue())
