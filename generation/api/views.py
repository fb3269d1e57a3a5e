from django.shortcuts import get_object_or_404
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from ..selectors import jobs_visible_to
from ..services import job_create
from .serializers import JobCreateSerializer, JobSerializer


class JobListCreateView(generics.ListAPIView):
    serializer_class = JobSerializer

    def get_queryset(self):
        return jobs_visible_to(self.request.user)

    def post(self, request):
        serializer = JobCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        kind = data.pop("kind")
        priority = data.pop("priority", "normal")
        job = job_create(owner=request.user, kind=kind, params=data, priority=priority)
        return Response(
            JobSerializer(job, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class JobDetailView(APIView):
    def get(self, request, job_id):
        job = get_object_or_404(jobs_visible_to(request.user), pk=job_id)
        return Response(JobSerializer(job, context={"request": request}).data)
