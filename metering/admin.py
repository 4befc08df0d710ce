from django.contrib import admin

from .models import MeteringUnit


@admin.register(MeteringUnit)
class MeteringUnitAdmin(admin.ModelAdmin):
    list_display = ["unit_name", "display_name", "aggregation", "created_at"]
    list_filter = ["aggregation"]
    search_fields = ["unit_name", "display_name"]
