"""Export endpoints under a book: ``POST …/books/{id}/export/``, ``GET …/exports/`` and
``…/exports/{export_id}/``, ``POST …/exports/{export_id}/cancel/``. Thin: the book is looked
up among the caller's (another user's is 404), then a service or selector."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from books.selectors import books_of
from core.acting import acting_user
from core.media import storage_url
from core.schema import USER_ID_PARAMETER
from core.serializers import StrictSerializer
from work.models import WorkStatus
from work.progress import work_progress

from .models import BookExport, ExportFormat
from .selectors import exports_of_book
from .services import export_cancel, export_create
from .work_kind import EXPORTS


class ExportCreateSerializer(StrictSerializer):
    format = serializers.ChoiceField(choices=ExportFormat.choices)


class ExportProgressSerializer(serializers.Serializer):
    step = serializers.IntegerField(help_text="Pages written.")
    total = serializers.IntegerField(help_text="Pages in the book.")
    fraction = serializers.FloatField()


class ExportSerializer(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    urls = serializers.SerializerMethodField()

    class Meta:
        model = BookExport
        fields = [
            "id", "book", "format", "status", "progress", "error", "url", "created_at",
            "started_at", "finished_at", "urls",
        ]  # fmt: skip

    @extend_schema_field(ExportProgressSerializer)
    def get_progress(self, export: BookExport) -> dict:
        return work_progress(EXPORTS, export)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_url(self, export: BookExport) -> str | None:
        """The file, presigned now, once the export succeeded."""
        if export.status != WorkStatus.SUCCEEDED:
            return None
        return storage_url(export.file.name, self.context.get("request"))

    @extend_schema_field(serializers.DictField(child=serializers.URLField()))
    def get_urls(self, export: BookExport) -> dict:
        request = self.context.get("request")
        args = [export.book_id, export.id]

        def link(name: str) -> str:
            path = reverse(f"api:{name}", args=args)
            return request.build_absolute_uri(path) if request else path

        return {"self": link("book-export-detail"), "cancel": link("book-export-cancel")}


def _book(request, book_id):
    return get_object_or_404(books_of(acting_user(request)), pk=book_id)


def _export(request, book_id, export_id) -> BookExport:
    return get_object_or_404(exports_of_book(book=_book(request, book_id)), pk=export_id)


def _render(export, request, code=status.HTTP_200_OK) -> Response:
    return Response(ExportSerializer(export, context={"request": request}).data, status=code)


class BookExportCreateView(APIView):
    @extend_schema(
        parameters=[USER_ID_PARAMETER],
        request=ExportCreateSerializer,
        responses={201: ExportSerializer},
    )
    def post(self, request, book_id):
        book = _book(request, book_id)
        body = ExportCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        export = export_create(book=book, format=body.validated_data["format"])
        return _render(export, request, status.HTTP_201_CREATED)


class BookExportListView(APIView):
    @extend_schema(parameters=[USER_ID_PARAMETER], responses=ExportSerializer(many=True))
    def get(self, request, book_id):
        exports = exports_of_book(book=_book(request, book_id))
        return Response(ExportSerializer(exports, many=True, context={"request": request}).data)


class BookExportDetailView(APIView):
    @extend_schema(parameters=[USER_ID_PARAMETER], responses=ExportSerializer)
    def get(self, request, book_id, export_id):
        return _render(_export(request, book_id, export_id), request)


class BookExportCancelView(APIView):
    @extend_schema(parameters=[USER_ID_PARAMETER], request=None, responses=ExportSerializer)
    def post(self, request, book_id, export_id):
        return _render(export_cancel(export=_export(request, book_id, export_id)), request)
