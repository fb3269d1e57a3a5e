"""Generated images shown on the pages of the apps below generation (a character's page), so
those apps never import generation: their templates load this library."""

from __future__ import annotations

from django import template

from ..pages import image_card
from ..selectors import image_list

register = template.Library()

CHARACTER_IMAGES_SHOWN = 24


@register.inclusion_tag("pages/_character_images.html", takes_context=True)
def character_images(context, character) -> dict:
    """The newest images of ``character`` that the signed-in user may see, as cards."""
    user = context["request"].user
    images = image_list(user=user, filters={"character": character.id})[:CHARACTER_IMAGES_SHOWN]
    return {"cards": [image_card(image) for image in images]}
