"""Outbox HTTP API: dead letters to see and retry, webhook subscriptions to manage."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from config.fields import DETAIL_ERRORS, LIST_ERRORS, StrictFilterSet, error_responses
from config.permissions import ADMIN, OPERATIONS, roles
from outbox import services
from outbox.errors import NotRetryable, UnknownEventType
from outbox.events import EVENT_TYPES
from outbox.models import Message, MessageStatus, WebhookSubscription


class MessageOut(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = [
            "id",
            "kind",
            "destination",
            "key",
            "group",
            "status",
            "attempts",
            "next_attempt_at",
            "last_error",
            "created_at",
            "sent_at",
            "dead_at",
            "payload",
        ]


class MessageFilter(StrictFilterSet):
    status = django_filters.ChoiceFilter(choices=MessageStatus.choices)
    kind = django_filters.CharFilter()
    key = django_filters.CharFilter()

    class Meta:
        model = Message
        fields = ["status", "kind", "key"]


@extend_schema_view(get=extend_schema(responses={200: MessageOut, **error_responses(*LIST_ERRORS)}))
class MessageList(generics.ListAPIView):
    """Outbound messages, newest first; `?status=dead` lists the dead letters operations should look at."""

    permission_classes = [roles(OPERATIONS)]
    serializer_class = MessageOut
    queryset = Message.objects.order_by("-pk")
    filterset_class = MessageFilter


@extend_schema_view(get=extend_schema(responses={200: MessageOut, **error_responses(*DETAIL_ERRORS)}))
class MessageDetail(generics.RetrieveAPIView):
    permission_classes = [roles(OPERATIONS)]
    serializer_class = MessageOut
    queryset = Message.objects.all()


class MessageRetry(APIView):
    """Send a dead letter again after fixing its cause: pending now, its attempts counted from zero."""

    permission_classes = [roles(OPERATIONS)]

    @extend_schema(
        request=None,
        responses={200: MessageOut, **error_responses(*DETAIL_ERRORS, 409, codes={409: (NotRetryable,)})},
    )
    def post(self, request, pk: int):
        services.message_retry(message_id=pk)
        return Response(MessageOut(Message.objects.get(pk=pk)).data)


class SubscriptionOut(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPES))

    class Meta:
        model = WebhookSubscription
        fields = ["id", "url", "events", "description", "active", "created_at"]


class SubscriptionCreatedOut(SubscriptionOut):
    secret = serializers.CharField(help_text="The `whsec_` signing secret; shown only in this answer.")

    class Meta(SubscriptionOut.Meta):
        fields = [*SubscriptionOut.Meta.fields, "secret"]


class SubscriptionIn(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    events = serializers.ListField(child=serializers.CharField(max_length=64), allow_empty=False, max_length=20)
    description = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)

    def validate_url(self, value: str) -> str:
        if not value.lower().startswith(("http://", "https://")):
            raise serializers.ValidationError("Only http and https URLs can receive webhooks.")
        return value


@extend_schema_view(get=extend_schema(responses={200: SubscriptionOut, **error_responses(*LIST_ERRORS)}))
class SubscriptionList(generics.ListAPIView):
    """Webhook subscriptions (admin role). POST one with `url` and `events`: the answer holds its secret, once."""

    permission_classes = [roles(ADMIN)]
    serializer_class = SubscriptionOut
    queryset = WebhookSubscription.objects.order_by("pk")
    parser_classes = [JSONParser]

    @extend_schema(
        request=SubscriptionIn,
        responses={201: SubscriptionCreatedOut, **error_responses(400, 401, 403, codes={400: (UnknownEventType,)})},
    )
    def post(self, request):
        data = SubscriptionIn(data=request.data)
        data.is_valid(raise_exception=True)
        subscription = services.subscription_create(**data.validated_data, actor=request.user)
        return Response(SubscriptionCreatedOut(subscription).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(responses={200: SubscriptionOut, **error_responses(*DETAIL_ERRORS)}),
    delete=extend_schema(responses={204: None, **error_responses(*DETAIL_ERRORS)}),
)
class SubscriptionDetail(generics.RetrieveAPIView):
    permission_classes = [roles(ADMIN)]
    serializer_class = SubscriptionOut
    queryset = WebhookSubscription.objects.all()

    def delete(self, request, pk: int):
        services.subscription_delete(subscription_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)
