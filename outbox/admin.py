from django.contrib import admin, messages

from config.admin_base import ReadOnlyAdmin
from outbox import services
from outbox.models import Message, MessageStatus, WebhookSubscription


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "destination", "key", "status", "attempts", "next_attempt_at", "created_at"]
    list_filter = ["status", "kind"]
    search_fields = ["key", "destination", "group"]
    actions = ["retry"]

    @admin.action(description="Send again (dead letters)")
    def retry(self, request, queryset):
        count = 0
        for message in queryset.exclude(status=MessageStatus.SENT).only("pk"):
            services.message_retry(message_id=message.pk)
            count += 1
        self.message_user(request, f"{count} message(s) queued again.", messages.SUCCESS)


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["id", "url", "active", "created_at"]
    readonly_fields = ["secret", "created_at", "created_by"]
    fields = ["url", "events", "description", "active", "secret", "created_at", "created_by"]

    def save_model(self, request, obj, form, change):
        if not obj.secret:
            from outbox.webhooks import secret_generate

            obj.secret = secret_generate()
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
