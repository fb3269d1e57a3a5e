"""Books API: books, their pages, generation, selection and share links. Every object is its
owner's: another user's book, page or link is a 404 for every verb."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.acting import acting_user
from core.parsers import JSONParser
from core.throttles import JobCreateThrottle
from generation.api.serializers import JobSerializer

from ..generation_runs import book_generate, page_regenerate, page_select
from ..models import Book, BookPage
from ..selectors import books_of
from ..services import (
    book_create,
    book_delete,
    book_update,
    page_create,
    page_delete,
    page_update,
    pages_reorder,
)
from ..share_links import share_link_create, share_link_revoke
from .serializers import (
    BookSerializer,
    BookSummarySerializer,
    BookWriteSerializer,
    GenerateSerializer,
    PageSerializer,
    PageWriteSerializer,
    RegenerateSerializer,
    ReorderSerializer,
    SelectSerializer,
    ShareLinkCreateSerializer,
    ShareLinkSerializer,
)

TAGS = ["books"]


def owned_book(request, book_id) -> Book:
    return get_object_or_404(books_of(acting_user(request)), pk=book_id)


def owned_page(request, book_id, page_id) -> BookPage:
    return get_object_or_404(owned_book(request, book_id).pages.all(), pk=page_id)


def valid(serializer_class, request, **kwargs) -> dict:
    serializer = serializer_class(data=request.data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def book_body(request, book: Book) -> dict:
    book = Book.objects.prefetch_related("pages__comments", "pages__characters").get(pk=book.pk)
    return BookSerializer(book, context={"request": request}).data


class BookListCreateView(generics.ListAPIView):
    serializer_class = BookSummarySerializer
    parser_classes = [JSONParser]

    def get_queryset(self):
        return books_of(acting_user(self.request)).prefetch_related("characters")

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        """Your books, newest first, with progress and cost (pages: GET the book)."""
        return super().get(request, *args, **kwargs)

    @extend_schema(request=BookWriteSerializer, responses={201: BookSerializer}, tags=TAGS)
    def post(self, request):
        book = book_create(owner=acting_user(request), **valid(BookWriteSerializer, request))
        return Response(book_body(request, book), status=status.HTTP_201_CREATED)


class BookDetailView(APIView):
    parser_classes = [JSONParser]

    @extend_schema(responses=BookSerializer, tags=TAGS)
    def get(self, request, book_id):
        """The book with its pages (selected image, candidates with identity scores, review
        status, comments), progress and cost."""
        return Response(book_body(request, owned_book(request, book_id)))

    @extend_schema(request=BookWriteSerializer(partial=True), responses=BookSerializer, tags=TAGS)
    def patch(self, request, book_id):
        book = owned_book(request, book_id)
        book = book_update(book=book, **valid(BookWriteSerializer, request, partial=True))
        return Response(book_body(request, book))

    @extend_schema(responses={204: None}, tags=TAGS)
    def delete(self, request, book_id):
        book_delete(book=owned_book(request, book_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PageCreateView(APIView):
    parser_classes = [JSONParser]

    @extend_schema(request=PageWriteSerializer, responses={201: PageSerializer}, tags=TAGS)
    def post(self, request, book_id):
        """A new page, last unless ``order`` says where."""
        page = page_create(book=owned_book(request, book_id), **valid(PageWriteSerializer, request))
        return Response(PageSerializer(page).data, status=status.HTTP_201_CREATED)


class PageDetailView(APIView):
    parser_classes = [JSONParser]

    @extend_schema(request=PageWriteSerializer(partial=True), responses=PageSerializer, tags=TAGS)
    def patch(self, request, book_id, page_id):
        page = owned_page(request, book_id, page_id)
        fields = valid(PageWriteSerializer, request, partial=True)
        fields.pop("order", None)  # order changes through reorder
        page = page_update(page=page, **fields)
        return Response(PageSerializer(page, context={"request": request}).data)

    @extend_schema(responses={204: None}, tags=TAGS)
    def delete(self, request, book_id, page_id):
        page_delete(page=owned_page(request, book_id, page_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PageReorderView(APIView):
    parser_classes = [JSONParser]

    @extend_schema(request=ReorderSerializer, responses=BookSerializer, tags=TAGS)
    def post(self, request, book_id):
        """``{"order": [page ids]}``: every page of the book, each once."""
        book = owned_book(request, book_id)
        pages_reorder(book=book, order=valid(ReorderSerializer, request)["order"])
        return Response(book_body(request, book))


class BookGenerateView(APIView):
    parser_classes = [JSONParser]
    throttle_classes = [JobCreateThrottle]

    @extend_schema(request=GenerateSerializer, responses={202: JobSerializer(many=True)}, tags=TAGS)
    def post(self, request, book_id):
        """One job per page (of ``pages``, else all) without an approved image and not under
        way: the book's style and characters, ``candidates_per_page`` images at the SDXL size
        nearest the page's aspect ratio, through the normal queue."""
        book = owned_book(request, book_id)
        jobs = book_generate(book=book, pages=valid(GenerateSerializer, request).get("pages"))
        body = {"jobs": [str(job.pk) for job in jobs], "book": book_body(request, book)}
        return Response(body, status=status.HTTP_202_ACCEPTED)


class PageSelectView(APIView):
    parser_classes = [JSONParser]

    @extend_schema(request=SelectSerializer, responses=PageSerializer, tags=TAGS)
    def post(self, request, book_id, page_id):
        """``{"image": id}``: one of the page's candidates becomes its image."""
        page = owned_page(request, book_id, page_id)
        page = page_select(page=page, image_id=valid(SelectSerializer, request)["image"])
        return Response(PageSerializer(page, context={"request": request}).data)


class PageRegenerateView(APIView):
    parser_classes = [JSONParser]
    throttle_classes = [JobCreateThrottle]

    @extend_schema(request=RegenerateSerializer, responses={202: PageSerializer}, tags=TAGS)
    def post(self, request, book_id, page_id):
        """A new round for the page: ``prompt`` replaces its scene, ``note`` is added to this
        round's prompt and kept as a comment."""
        page = owned_page(request, book_id, page_id)
        fields = valid(RegenerateSerializer, request)
        page_regenerate(page=page, author=request.user, **fields)
        page.refresh_from_db()
        body = PageSerializer(page, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


class ShareLinkListCreateView(APIView):
    parser_classes = [JSONParser]

    @extend_schema(responses=ShareLinkSerializer(many=True), tags=TAGS)
    def get(self, request, book_id):
        links = owned_book(request, book_id).share_links.all()
        return Response(ShareLinkSerializer(links, many=True).data)

    @extend_schema(request=ShareLinkCreateSerializer, responses={201: dict}, tags=TAGS)
    def post(self, request, book_id):
        """``{"label", "expires_in_days"}`` -> ``{id, url, expires_at}``; the URL holds the
        token, shown only now."""
        book = owned_book(request, book_id)
        link, token = share_link_create(book=book, **valid(ShareLinkCreateSerializer, request))
        url = request.build_absolute_uri(reverse("share-page", args=[token]))
        body = {**ShareLinkSerializer(link).data, "url": url}
        return Response(body, status=status.HTTP_201_CREATED)


class ShareLinkDetailView(APIView):
    @extend_schema(responses={204: None}, tags=TAGS)
    def delete(self, request, book_id, link_id):
        """Revoke the link: it opens nothing from now on."""
        link = get_object_or_404(owned_book(request, book_id).share_links.all(), pk=link_id)
        share_link_revoke(link=link)
        return Response(status=status.HTTP_204_NO_CONTENT)
