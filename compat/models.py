from django.conf import settings
from django.db import models


class A1111Options(models.Model):
    """A user's AUTOMATIC1111 settings (``/sdapi/v1/options``): what a single-user A1111 server
    keeps globally, kept per user here."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="a1111_options",
    )
    sd_model_checkpoint = models.CharField(
        max_length=200,
        blank=True,
        help_text="The model (base model or style preset slug) txt2img and img2img use; "
        "empty: the base model.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "AUTOMATIC1111 options"
        verbose_name_plural = "AUTOMATIC1111 options"

    def __str__(self) -> str:
        return f"A1111 options of {self.user}"
