"""AUTOMATIC1111's request bodies. Fields it has that the platform maps are typed and checked;
fields it has with no platform counterpart (subseeds, tiling, refiners, script arguments...)
are accepted and ignored (``IGNORED``); a field AUTOMATIC1111 itself does not know is a 400,
like anywhere on this platform. Ranges are checked by the platform's serializer when the job
is made, and errors name the A1111 field."""

from __future__ import annotations

from rest_framework import serializers

from core.parsers import JSONTypedMixin
from core.serializers import StrictSerializer

# AUTOMATIC1111 fields without a platform counterpart: accepted, ignored.
IGNORED_TXT2IMG = (
    "subseed",
    "subseed_strength",
    "seed_resize_from_h",
    "seed_resize_from_w",
    "restore_faces",
    "tiling",
    "do_not_save_samples",
    "do_not_save_grid",
    "eta",
    "s_min_uncond",
    "s_churn",
    "s_tmax",
    "s_tmin",
    "s_noise",
    "override_settings_restore_afterwards",
    "refiner_checkpoint",
    "refiner_switch_at",
    "disable_extra_networks",
    "firstpass_image",
    "comments",
    "firstphase_width",
    "firstphase_height",
    "hr_checkpoint_name",
    "hr_sampler_name",
    "hr_scheduler",
    "hr_additional_modules",
    "force_task_id",
    "script_name",
    "script_args",
    "infotext",
    "batch_count",
)
IGNORED_IMG2IMG = (
    "image_cfg_scale",
    "mask_blur_x",
    "mask_blur_y",
    "inpainting_fill",
    "inpaint_full_res",
    "inpaint_full_res_padding",
    "initial_noise_multiplier",
    "latent_mask",
    "include_init_images",
)


def _ignored() -> serializers.JSONField:
    return serializers.JSONField(
        required=False, allow_null=True, help_text="Accepted; no effect here."
    )


class _GenerationRequest(StrictSerializer):
    prompt = serializers.CharField(
        help_text="With <lora:name:weight> tags. Required: the platform draws nothing unasked."
    )
    negative_prompt = serializers.CharField(required=False, allow_blank=True)
    styles = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        max_length=1,
        help_text="At most one prompt style (a style preset slug, GET /sdapi/v1/prompt-styles).",
    )
    seed = serializers.IntegerField(required=False, allow_null=True, help_text="-1: random.")
    sampler_name = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    sampler_index = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, help_text="Old name of sampler_name."
    )
    scheduler = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, help_text="automatic or karras."
    )
    batch_size = serializers.IntegerField(required=False, min_value=1, max_value=8)
    n_iter = serializers.IntegerField(required=False, min_value=1, max_value=10)
    steps = serializers.IntegerField(required=False)
    cfg_scale = serializers.FloatField(required=False)
    width = serializers.IntegerField(required=False)
    height = serializers.IntegerField(required=False)
    denoising_strength = serializers.FloatField(required=False, allow_null=True)
    override_settings = serializers.DictField(
        required=False, allow_null=True, help_text="sd_model_checkpoint is used; others ignored."
    )
    send_images = serializers.BooleanField(required=False)
    save_images = serializers.BooleanField(
        required=False, help_text="Accepted; every image is kept in the gallery anyway."
    )
    alwayson_scripts = serializers.DictField(
        required=False,
        allow_null=True,
        help_text="A `controlnet` (or `ControlNet`) entry's first enabled unit becomes the "
        "job's control input; other scripts are ignored.",
    )


class Txt2ImgRequestSerializer(_GenerationRequest):
    enable_hr = serializers.BooleanField(required=False, help_text="Then an upscale job.")
    hr_scale = serializers.FloatField(required=False, help_text="2 or 4.")
    hr_upscaler = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    hr_second_pass_steps = serializers.IntegerField(required=False, min_value=0)
    hr_resize_x = serializers.IntegerField(required=False, min_value=0)
    hr_resize_y = serializers.IntegerField(required=False, min_value=0)
    hr_prompt = serializers.CharField(required=False, allow_blank=True)
    hr_negative_prompt = serializers.CharField(required=False, allow_blank=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in IGNORED_TXT2IMG:
            self.fields[name] = _ignored()


class Img2ImgRequestSerializer(_GenerationRequest):
    init_images = serializers.ListField(
        child=serializers.CharField(),
        min_length=1,
        max_length=1,
        help_text="One base64 image (raw or a data URL).",
    )
    mask = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="Base64 image; white marks what to repaint (inpaint).",
    )
    mask_blur = serializers.IntegerField(required=False, min_value=0)
    inpainting_mask_invert = serializers.IntegerField(required=False, min_value=0, max_value=1)
    resize_mode = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=3,
        help_text="0 resize, 1 crop and resize, 2 resize and fill, 3 resize.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in (*IGNORED_TXT2IMG, *IGNORED_IMG2IMG):
            self.fields[name] = _ignored()


class ProgressQuerySerializer(serializers.Serializer):
    skip_current_image = serializers.BooleanField(
        required=False, default=False, help_text="Leave the live preview out."
    )


class OptionsSerializer(JSONTypedMixin, serializers.Serializer):
    """What /sdapi/v1/options keeps: the model. Other A1111 options are answered with fixed
    values and ignored when set, as A1111 ignores options it does not know."""

    sd_model_checkpoint = serializers.CharField(
        required=False, help_text="A title from /sdapi/v1/sd-models."
    )
