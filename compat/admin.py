from django.contrib import admin

from .models import A1111Options


@admin.register(A1111Options)
class A1111OptionsAdmin(admin.ModelAdmin):
    list_display = ("user", "sd_model_checkpoint", "updated_at")
    search_fields = ("user__username",)
    readonly_fields = ("updated_at",)
