from django.contrib import admin

from gas_site.models import QueuedMessage


@admin.register(QueuedMessage)
class QueuedMessageAdmin(admin.ModelAdmin):
    list_display = ["pk", "queue_name", "sent_at", "visible_at", "receive_count"]
    list_filter = ["queue_name"]
    readonly_fields = [
        "queue_name",
        "body",
        "sent_at",
        "visible_at",
        "receive_count",
        "receipt_token",
        "first_received_at",
    ]
