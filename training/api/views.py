"""Training endpoints. Thin: validate, call a service, serialize."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.acting import acting_user
from core.schema import USER_ID_PARAMETER
from core.serializers import validated_query
from core.throttles import JobCreateThrottle
from work.models import WorkStatus

from ..params import TUNABLE
from ..selectors import trainings_visible_to
from ..services import training_cancel, training_create, training_delete
from .serializers import TrainingCreateSerializer, TrainingSerializer


def render_training(run, request, status_code=status.HTTP_200_OK) -> Response:
    return Response(TrainingSerializer(run, context={"request": request}).data, status=status_code)


def create_training_from(owner, data: dict):
    """Shared by the API and the character page's form."""
    serializer = TrainingCreateSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    values = dict(serializer.validated_data)
    tuned = {key: values[key] for key in (*TUNABLE, "seed", "sample_prompts") if key in values}
    return training_create(
        owner=owner,
        trigger_word=values["trigger_word"],
        character_id=str(values["character"]) if values.get("character") else None,
        upload_ids=[str(pk) for pk in values.get("images", [])] or None,
        captions=values.get("captions"),
        caption_template=values.get("caption_template"),
        lora_type=values.get("lora_type"),
        name=values.get("name"),
        attach_to_character=values.get("attach_to_character", False),
        params=tuned,
    )


class TrainingQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=WorkStatus.choices, required=False)
    character = serializers.UUIDField(required=False)


def acting_trainings(request):
    """The runs of the user the request acts for (``user_id``, core.acting)."""
    return trainings_visible_to(acting_user(request))


@extend_schema(parameters=[TrainingQuerySerializer, USER_ID_PARAMETER], methods=["GET"])
class TrainingListCreateView(generics.ListAPIView):
    serializer_class = TrainingSerializer
    throttle_classes = [JobCreateThrottle]  # a training is a job too

    def get_queryset(self):
        filters = validated_query(TrainingQuerySerializer, self.request)
        if "character" in filters:
            filters["character_id"] = filters.pop("character")
        return acting_trainings(self.request).filter(**filters)

    @extend_schema(request=TrainingCreateSerializer, responses={201: TrainingSerializer})
    def post(self, request):
        run = create_training_from(acting_user(request), request.data)
        return render_training(run, request, status.HTTP_201_CREATED)


class TrainingDetailView(APIView):
    @extend_schema(parameters=[USER_ID_PARAMETER], responses=TrainingSerializer)
    def get(self, request, training_id):
        run = get_object_or_404(acting_trainings(request), pk=training_id)
        return render_training(run, request)

    @extend_schema(parameters=[USER_ID_PARAMETER], responses={204: None})
    def delete(self, request, training_id):
        training_delete(run=get_object_or_404(acting_trainings(request), pk=training_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TrainingCancelView(APIView):
    @extend_schema(
        request=None, parameters=[USER_ID_PARAMETER], responses={200: TrainingSerializer}
    )
    def post(self, request, training_id):
        run = get_object_or_404(acting_trainings(request), pk=training_id)
        return render_training(training_cancel(run=run), request)
