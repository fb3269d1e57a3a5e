from django.apps import AppConfig


class CharactersConfig(AppConfig):
    name = "characters"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from catalog.registry import register_section

        from .registry_section import CHARACTERS_SECTION

        # Characters are part of the curated registry file; the catalog below knows them
        # only as a section registered here.
        register_section(CHARACTERS_SECTION)

        from core.orphan_sweep import named_by_fields, register_stored_prefix

        from .models import ReferenceImage

        # What the orphan sweep may remove under references/: objects no reference row names.
        register_stored_prefix("references/", named_by_fields(ReferenceImage, "image"))
