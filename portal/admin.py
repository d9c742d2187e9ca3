from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from portal.models import AuditEntry, OutboxMessage, Programme, User


@admin.register(User)
class PortalUserAdmin(UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, ("Portal", {"fields": ("role", "full_name")}))
    list_display = ("username", "email", "full_name", "role", "is_active")
    list_filter = ("role", "is_active")


@admin.register(Programme)
class ProgrammeAdmin(admin.ModelAdmin):
    list_display = ("name", "year", "opens_at", "closes_at", "max_teams")


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the trail is append-only."""

    list_display = ("at", "actor_repr", "ip_address", "action", "object_type", "object_id")
    list_filter = ("action",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """Side effects waiting, done or given up (``status=failed`` is the one to act on)."""

    list_display = ("id", "task_name", "dedupe_key", "status", "attempts", "failures", "last_error", "created_at")
    list_filter = ("status", "task_name")
    search_fields = ("dedupe_key",)
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]

    def has_add_permission(self, request):
        return False
