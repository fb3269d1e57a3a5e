"""Request and answer bodies of the OpenAI routes, as OpenAI documents them. Fields beyond
OpenAI's (``negative_prompt``, ``seed``, ...) are what the ``openai`` client sends as
``extra_body``; the platform's serializer checks their ranges when the job is made."""

from __future__ import annotations

from rest_framework import serializers

from core.serializers import StrictSerializer

from ..platform import LoraChoiceSerializer

QUALITIES = ("low", "medium", "high", "auto", "standard", "hd", "xhigh", "max")
RESPONSE_FORMATS = ("url", "b64_json")
OUTPUT_FORMATS = ("png", "jpeg", "webp")


def _optional(field_class, **kwargs):
    return field_class(required=False, allow_null=True, **kwargs)


class _CommonRequest(StrictSerializer):
    """Fields every image operation takes."""

    model = _optional(
        serializers.CharField, help_text="A model id from GET /v1/models; default: base model."
    )
    n = _optional(serializers.IntegerField, min_value=1, max_value=10)
    size = _optional(
        serializers.CharField, help_text="WIDTHxHEIGHT, multiples of 8 (256-2048), or auto."
    )
    response_format = _optional(serializers.ChoiceField, choices=RESPONSE_FORMATS)
    user = serializers.CharField(
        required=False, allow_blank=True, help_text="Your end user; recorded on the job."
    )
    # Platform parameters beyond OpenAI's (the openai client's extra_body).
    negative_prompt = serializers.CharField(required=False, allow_blank=True)
    seed = _optional(serializers.IntegerField)
    steps = serializers.IntegerField(required=False)
    guidance_scale = serializers.FloatField(required=False)
    style_preset = serializers.SlugField(
        required=False, help_text="A style preset slug (GET /api/v1/styles/)."
    )


class _GptImageOptions(StrictSerializer):
    """The GPT-image options of generations and edits."""

    quality = _optional(
        serializers.ChoiceField,
        choices=QUALITIES,
        help_text="low/medium/high/xhigh/max (and dall-e-3's standard/hd) -> the quality "
        "presets draft/standard/high/ultra; auto: the model's.",
    )
    output_format = _optional(
        serializers.ChoiceField, choices=OUTPUT_FORMATS, help_text="Of b64_json answers."
    )
    output_compression = _optional(serializers.IntegerField, min_value=0, max_value=100)
    background = _optional(
        serializers.ChoiceField,
        choices=("auto", "opaque", "transparent"),
        help_text="transparent is not supported (images are opaque).",
    )
    safety_identifier = serializers.CharField(required=False, allow_blank=True)
    stream = _optional(serializers.BooleanField, help_text="Streaming is not supported.")
    partial_images = _optional(serializers.IntegerField, min_value=0, max_value=0)

    def validate_background(self, value):
        if value == "transparent":
            raise serializers.ValidationError("Transparent backgrounds are not supported.")
        return value

    def validate_stream(self, value):
        if value:
            raise serializers.ValidationError("Streaming is not supported; send stream=false.")
        return value


class GenerationRequestSerializer(_CommonRequest, _GptImageOptions):
    prompt = serializers.CharField()
    style = _optional(
        serializers.ChoiceField, choices=("vivid", "natural"), help_text="Accepted; no effect."
    )
    moderation = _optional(serializers.ChoiceField, choices=("low", "auto"))
    character = serializers.UUIDField(required=False, help_text="One of your characters.")
    loras = LoraChoiceSerializer(many=True, required=False)


class _ImageInput(StrictSerializer):
    strength = serializers.FloatField(
        required=False, help_text="How far to move from the image: 0 keeps it, 1 repaints."
    )


class EditRequestSerializer(_CommonRequest, _GptImageOptions, _ImageInput):
    image = serializers.FileField(required=False, help_text="The image to edit (PNG, JPEG, WebP).")
    mask = serializers.FileField(
        required=False,
        help_text="A PNG of the image's size whose fully transparent pixels mark what to "
        "repaint (inpaint); without it the whole image is varied (img2img).",
    )
    prompt = serializers.CharField()
    input_fidelity = _optional(serializers.ChoiceField, choices=("high", "low"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # What the openai client sends for a list of images: one source is edited.
        self.fields["image[]"] = serializers.ListField(
            child=serializers.FileField(), required=False, max_length=1
        )

    def validate(self, attrs):
        images = ([attrs["image"]] if attrs.get("image") else []) + attrs.get("image[]", [])
        if len(images) != 1:
            raise serializers.ValidationError(
                {"image": ["Send exactly one image (image or image[])."]}
            )
        attrs["source"] = images[0]
        return attrs


class VariationRequestSerializer(_CommonRequest, _ImageInput):
    image = serializers.FileField(help_text="The image to vary (PNG, JPEG, WebP).")
    prompt = serializers.CharField(
        required=False, help_text="What the image shows (a platform extra); default generic."
    )


class ImageDataSerializer(serializers.Serializer):
    url = serializers.URLField(required=False, help_text="Without response_format=b64_json.")
    b64_json = serializers.CharField(required=False)
    revised_prompt = serializers.CharField(help_text="The prompt as the model received it.")


class TokenDetailsSerializer(serializers.Serializer):
    text_tokens = serializers.IntegerField()
    image_tokens = serializers.IntegerField()


class UsageSerializer(serializers.Serializer):
    """OpenAI's usage keys, counted in words and images (the platform has no tokens)."""

    input_tokens = serializers.IntegerField(help_text="Prompt words plus input images.")
    input_tokens_details = TokenDetailsSerializer()
    output_tokens = serializers.IntegerField(help_text="Images made.")
    total_tokens = serializers.IntegerField()


class ImagesResponseSerializer(serializers.Serializer):
    created = serializers.IntegerField(help_text="Unix seconds.")
    data = ImageDataSerializer(many=True)
    usage = UsageSerializer()
    size = serializers.CharField()
    quality = serializers.CharField(allow_null=True)
    output_format = serializers.ChoiceField(choices=OUTPUT_FORMATS)
    background = serializers.CharField()


class ModelSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField()
    created = serializers.IntegerField()
    owned_by = serializers.CharField()


class ModelListSerializer(serializers.Serializer):
    object = serializers.CharField()
    data = ModelSerializer(many=True)
