"""Admin for books: books with their pages inline and their cost (derived from job rows),
pages with their review decisions and the review actions, share links (revoke), review
metrics (acceptance rates per style, character and model)."""

from __future__ import annotations

from django.contrib import admin, messages

from core.admin import RollupAdmin, image_tag

from .models import Book, BookPage, CommentKind, PageComment, ReviewMetrics, ShareLink
from .review_metrics import GROUPS, acceptance_rates
from .selectors import book_cost
from .share_links import pages_review_set, share_link_revoke


class BookPageInline(admin.TabularInline):
    model = BookPage
    fields = ("order", "text", "prompt", "image", "review_status", "needs_attention")
    readonly_fields = ("image", "review_status", "needs_attention")
    extra = 0
    show_change_link = True

    @admin.display(description="image")
    def image(self, page: BookPage):
        selected = page.selected_image
        if selected is None:
            return "–"
        return image_tag(selected.thumbnail or selected.file, alt=f"page {page.order}")


@admin.register(Book)
class BookAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "status", "pages", "cost", "created_at")
    list_filter = ("status",)
    search_fields = ("title", "owner__username")
    raw_id_fields = ("owner", "characters")
    readonly_fields = ("cost", "created_at", "updated_at")
    inlines = [BookPageInline]

    @admin.display(description="pages")
    def pages(self, book: Book) -> int:
        return book.pages.count()

    @admin.display(description="cost (GPU s · images · jobs)")
    def cost(self, book: Book) -> str:
        cost = book_cost(book)
        return f"{cost['gpu_seconds']} s · {cost['images']} · {cost['jobs']}"


class PageCommentInline(admin.TabularInline):
    model = PageComment
    fields = ("created_at", "label", "kind", "text")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(BookPage)
class BookPageAdmin(admin.ModelAdmin):
    list_display = ("__str__", "review_status", "needs_attention", "last_decision")
    list_filter = ("review_status", "needs_attention")
    search_fields = ("book__title", "prompt", "text")
    raw_id_fields = ("book", "characters", "control_image", "selected_image")
    readonly_fields = ("review_status", "retries_used")
    inlines = [PageCommentInline]
    actions = ["approve", "request_changes"]

    @admin.display(description="last decision")
    def last_decision(self, page: BookPage) -> str:
        last = page.comments.exclude(kind=CommentKind.NOTE).last()
        if last is None:
            return "–"
        return f"{last.label} · {last.get_kind_display()} · {last.created_at:%Y-%m-%d %H:%M}"

    @admin.action(description="Approve the selected pages")
    def approve(self, request, queryset):
        count = pages_review_set(pages=queryset, decision=CommentKind.APPROVED, author=request.user)
        self.message_user(request, f"{count} pages approved.", messages.SUCCESS)

    @admin.action(description="Ask for changes on the selected pages")
    def request_changes(self, request, queryset):
        count = pages_review_set(
            pages=queryset, decision=CommentKind.CHANGES_REQUESTED, author=request.user
        )
        self.message_user(request, f"Changes asked on {count} pages.", messages.SUCCESS)


@admin.register(ShareLink)
class ShareLinkAdmin(admin.ModelAdmin):
    list_display = ("label", "book", "expires_at", "revoked_at", "created_at")
    fields = ("book", "label", "expires_at", "revoked_at", "created_at")
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # made through the API or the book page: the token is shown only there

    @admin.action(description="Revoke the selected links")
    def revoke(self, request, queryset):
        for link in queryset:
            share_link_revoke(link=link)
        self.message_user(request, f"{queryset.count()} links revoked.", messages.SUCCESS)


@admin.register(ReviewMetrics)
class ReviewMetricsAdmin(RollupAdmin):
    """Acceptance rates (approved pages / generated images) of the pages the filters select,
    per style, character and model; the page shows the tables, not the pages. Read-only."""

    change_list_template = "admin/books/reviewmetrics/change_list.html"
    list_filter = (("book__owner", admin.RelatedOnlyFieldListFilter), "book__style")
    search_fields = ("book__title",)

    def rollup(self, queryset):
        return {
            "acceptance": {group: acceptance_rates(group=group, pages=queryset) for group in GROUPS}
        }
