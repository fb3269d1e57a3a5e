"""The print-ready PDF, drawn with reportlab (a maintained PDF writer with TrueType embedding
and subsetting, page boxes and image placement; it has no OutputIntent, which pikepdf,
qpdf's Python binding, adds afterwards). One page per book page at trim size plus bleed:
the image full-bleed over the whole MediaBox at the book's dpi, the page's text in a band
within the trim, set in an embedded TrueType font; TrimBox and BleedBox set; every image RGB
under an sRGB OutputIntent. No Django here: pages in, a file out."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import reportlab
from PIL import Image, ImageCms, ImageOps
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from .page_sizes import PageGeometry

FONT_NAME = "BookText"
# Debian's fonts-dejavu-core when installed; else the Vera TrueType reportlab ships.
FONT_FILES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path(reportlab.__file__).parent / "fonts" / "Vera.ttf",
)
FONT_SIZE_PT = 14
LINE_HEIGHT = 1.3
SAFE_MARGIN_IN = 0.25  # text keeps this far inside the trim
BAND_OPACITY = 0.85


@dataclass
class PdfPage:
    image: Image.Image
    text: str


def font_file() -> Path:
    return next(path for path in FONT_FILES if path.exists())


def _register_font() -> None:
    if FONT_NAME not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT_NAME, str(font_file())))


def fit_to_page(image: Image.Image, geometry: PageGeometry) -> Image.Image:
    """The image cropped to the page's shape (centred) and resampled to exactly the pixels
    that fill trim plus bleed at the book's dpi (in RGB)."""
    return ImageOps.fit(image.convert("RGB"), geometry.image_px, Image.Resampling.LANCZOS)


def write_pdf(
    path: Path,
    pages: Iterable[PdfPage],
    geometry: PageGeometry,
    *,
    title: str,
    on_page: Callable[[int], None] = lambda done: None,
) -> None:
    """Write the book to ``path``; ``on_page(done)`` after each page (progress, a cancel
    check that raises)."""
    _register_font()
    media = (geometry.points(geometry.media_w_in), geometry.points(geometry.media_h_in))
    bleed = geometry.points(geometry.bleed_in)
    trim = (bleed, bleed, media[0] - bleed, media[1] - bleed)
    # The text font from the start, so no unembedded standard font is named anywhere.
    pdf = canvas.Canvas(
        str(path), pagesize=media, pageCompression=1, initialFontName=FONT_NAME,
        initialFontSize=FONT_SIZE_PT,
    )  # fmt: skip
    pdf.setTitle(title)
    pdf.setCreator("illuplatform")
    for done, page in enumerate(pages, start=1):
        pdf.setTrimBox(trim)
        pdf.setBleedBox((0, 0, *media))
        fitted = fit_to_page(page.image, geometry)
        pdf.drawImage(ImageReader(fitted), 0, 0, width=media[0], height=media[1])
        if page.text.strip():
            _text_band(pdf, page.text, geometry, trim, media[0])
        pdf.showPage()
        on_page(done)
    pdf.save()
    add_srgb_output_intent(path)


def _text_band(pdf: canvas.Canvas, text: str, geometry: PageGeometry, trim, media_w) -> None:
    """The text, wrapped, in a light band across the bottom of the page (into the bleed,
    so no sliver of image shows under it after trimming), the words inside the trim."""
    margin = geometry.points(SAFE_MARGIN_IN)
    left, bottom, right, _ = trim
    width = right - left - 2 * margin
    lines = [line for part in text.splitlines() for line in simpleSplit(part, FONT_NAME,
             FONT_SIZE_PT, width) or [""]]  # fmt: skip
    leading = FONT_SIZE_PT * LINE_HEIGHT
    band_height = len(lines) * leading + 2 * margin
    pdf.saveState()
    pdf.setFillColorRGB(1, 1, 1, alpha=BAND_OPACITY)
    pdf.rect(0, 0, media_w, bottom + band_height, stroke=0, fill=1)
    pdf.setFillColorRGB(0, 0, 0)
    pdf.setFont(FONT_NAME, FONT_SIZE_PT)
    y = bottom + margin + (len(lines) - 1) * leading + (leading - FONT_SIZE_PT)
    for line in lines:
        pdf.drawCentredString(left + margin + width / 2, y, line)
        y -= leading
    pdf.restoreState()


def srgb_profile() -> bytes:
    """An sRGB ICC profile (LittleCMS's built-in, through Pillow)."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def add_srgb_output_intent(path: Path) -> None:
    import pikepdf

    with pikepdf.open(path, allow_overwriting_input=True) as document:
        profile = document.make_stream(srgb_profile())
        profile.N = 3
        profile.Alternate = pikepdf.Name.DeviceRGB
        intent = pikepdf.Dictionary(
            Type=pikepdf.Name.OutputIntent,
            S=pikepdf.Name.GTS_PDFA1,
            OutputConditionIdentifier="sRGB IEC61966-2.1",
            Info="sRGB IEC61966-2.1",
            DestOutputProfile=profile,
        )
        document.Root.OutputIntents = pikepdf.Array([intent])
        document.save(path)
