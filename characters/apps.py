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
