"""Django admin for the allocation part: read-only, because every change goes through the
audited services (the GPU pool page, allocation runs and their approval)."""

from django.contrib import admin

from gpu_allocation.models import Allocation, AllocationGrant, AllocationRun, GpuCluster


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(GpuCluster)
class GpuClusterAdmin(ReadOnlyAdmin):
    list_display = ["name", "programme", "gpu_model", "nodes", "gpus_per_node", "equivalence", "period_start", "period_end", "is_active"]  # fmt: skip
    list_filter = ["programme", "gpu_model", "is_active"]
    list_select_related = ["programme"]


class AllocationGrantInline(admin.TabularInline):
    model = AllocationGrant
    extra = 0
    can_delete = False
    readonly_fields = ["cluster", "nodes", "gpus_per_node", "gpus"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(AllocationRun)
class AllocationRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "programme", "status", "progress", "attempts", "created_by", "created_at", "approved_at", "superseded_at"]  # fmt: skip
    list_filter = ["programme", "status"]
    list_select_related = ["programme", "created_by"]
    search_fields = ["inputs_sha256"]


@admin.register(Allocation)
class AllocationAdmin(ReadOnlyAdmin):
    list_display = ["run", "rank", "consortium", "total_gpus", "budget"]
    list_filter = ["run__programme"]
    list_select_related = ["run", "consortium"]
    inlines = [AllocationGrantInline]
