"""Strict input fields shared by every API: integers are integers, booleans are booleans.

DRF, Django forms and django-filter are lenient by default: ``int()`` takes
``"1_000"``, ``" 2 "`` and ``"٣"`` (an Arabic-Indic three), DRF takes ``1.0``
and ``true`` as integers, django-filter's boolean turns ``"0.59"`` into "no
filter" and ``"2"`` into true, DRF's pagination ignores a ``page_size`` it
cannot read, and Python reads UTC offsets up to ±23:59 that PostgreSQL cannot
store (±15:59), so such a filter became a 500. Here:

- a JSON body takes only JSON integers (not booleans, floats or strings);
- a query parameter integer is ASCII ``-?[0-9]+``; a boolean is ``true`` or ``false``;
- a datetime is ISO 8601 in ASCII, its UTC offset within ±15:59.

A bad value is a 400 ``{"detail", "code": "invalid", "extra": {"fields": {name: [...]}}}``
that names the parameter, rendered by the one exception handler. ``ErrorOut``
documents that shape in the OpenAPI schema, and ``error_responses()`` declares
the error answers of an operation.
"""

from __future__ import annotations

import datetime as dt
import re

import django_filters
from django import forms
from django.db import models
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema_field, extend_schema_serializer
from rest_framework import serializers

_ASCII_INTEGER = re.compile(r"-?[0-9]+")
# PostgreSQL's timestamptz input refuses a UTC offset beyond 15:59 ("time zone displacement out of range").
MAX_UTC_OFFSET = dt.timedelta(hours=15, minutes=59)
INTEGER_HELP = "a whole number in ASCII digits"


def query_integer(value: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """An integer query parameter: ASCII ``-?[0-9]+`` within bounds; raises ValueError with the reason."""
    if not isinstance(value, str) or not _ASCII_INTEGER.fullmatch(value):
        raise ValueError(f"Must be {INTEGER_HELP}, got {value[:40]!r}.")
    if len(value) > 19:  # past any bound here, and int() of thousands of digits is refused by Python
        raise ValueError(f"Must be {INTEGER_HELP} of at most 19 digits.")
    number = int(value)
    if minimum is not None and number < minimum:
        raise ValueError(f"Must be at least {minimum}, got {number}.")
    if maximum is not None and number > maximum:
        raise ValueError(f"Must be at most {maximum}, got {number}.")
    return number


# --- JSON bodies ----------------------------------------------------------------------


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer and nothing else: ``true``, ``1.0`` and ``"1"`` are refused."""

    default_error_messages = {"invalid": "A JSON integer is required (not a string, float or boolean)."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


# --- Query parameters ------------------------------------------------------------------------


@extend_schema_field({"type": "integer"})
class QueryIntegerField(serializers.Field):
    """An integer query parameter read by a serializer: ASCII ``-?[0-9]+`` within bounds (``query_integer``)."""

    default_error_messages = {"invalid": "{reason}"}

    def __init__(self, *, min_value: int | None = None, max_value: int | None = None, **kwargs):
        self.min_value, self.max_value = min_value, max_value
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        try:
            return query_integer(data, minimum=self.min_value, maximum=self.max_value)
        except ValueError as exc:
            self.fail("invalid", reason=str(exc))

    def to_representation(self, value):
        return value


# --- Query parameters (django-filter) ----------------------------------------------------


class StrictBooleanFormField(forms.Field):
    """``true`` or ``false``; absent or empty means "do not filter"."""

    widget = forms.TextInput
    default_error_messages = {"invalid": "Must be true or false."}

    def to_python(self, value):
        if value in (None, ""):
            return None
        if value == "true":
            return True
        if value == "false":
            return False
        raise forms.ValidationError(self.error_messages["invalid"], code="invalid")

    def validate(self, value):
        # None ("do not filter") is valid even though the field is not required.
        return None


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanFormField


class StrictIsoDateTimeFormField(django_filters.fields.IsoDateTimeField):
    """ISO 8601 in ASCII (``2026-01-01T00:00:00Z``, or ``...+02:00`` with the ``+`` URL-encoded)."""

    default_error_messages = {
        "invalid": "Enter an ISO 8601 datetime such as 2026-01-01T00:00:00Z (URL-encode the + of an offset).",
        "offset": "The UTC offset must be within ±15:59.",
    }

    def to_python(self, value):
        if isinstance(value, str) and value and (not value.isascii() or value != value.strip()):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        parsed = super().to_python(value)
        if parsed is not None and abs(parsed.utcoffset()) > MAX_UTC_OFFSET:
            raise forms.ValidationError(self.error_messages["offset"], code="offset")
        return parsed


class StrictIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = StrictIsoDateTimeFormField


class StrictFilterSet(django_filters.FilterSet):
    """A FilterSet whose generated boolean and datetime filters are the strict ones above."""

    FILTER_DEFAULTS = {
        **django_filters.FilterSet.FILTER_DEFAULTS,
        models.BooleanField: {"filter_class": StrictBooleanFilter},
        models.DateTimeField: {"filter_class": StrictIsoDateTimeFilter},
    }


# --- Output ----------------------------------------------------------------------------


@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^\d{2}:\d{2}(:\d{2})?$",
        "description": "Warehouse local time, HH:MM:SS without an offset (the warehouse's `timezone` applies).",
        "example": "14:00:00",
    }
)
class LocalTimeField(serializers.TimeField):
    """A wall-clock time in the warehouse's own zone: not an RFC 3339 ``time`` (that needs an offset)."""


# --- Errors in the OpenAPI schema -----------------------------------------------------------


@extend_schema_serializer(component_name="Error")
class ErrorOut(serializers.Serializer):
    """Every error answer: a sentence, a code clients branch on, and details (``fields`` for bad input)."""

    detail = serializers.CharField()
    code = serializers.CharField()
    extra = serializers.DictField(help_text="Details; a 400 for bad input has `fields`: {name: [messages]}.")


_ERROR_DESCRIPTIONS = {
    400: "Bad input: `extra.fields` names each bad field or query parameter (code `invalid`)",
    401: "No token, or an unknown one (code `not_authenticated` or `authentication_failed`)",
    403: "The token's role may not do this (code `permission_denied`)",
    404: "Not found (code `not_found`)",
    409: "Refused by the current state",
    415: "The body is not JSON (code `unsupported_media_type`)",
}
_ERROR_EXAMPLES = {
    400: ("Invalid input.", "invalid", {"fields": {"quantity": ["A JSON integer is required."]}}),
    401: ("Authentication credentials were not provided.", "not_authenticated", {}),
    403: ("You do not have permission to perform this action.", "permission_denied", {}),
    404: ("Not found.", "not_found", {}),
    409: ("The request conflicts with the current state.", "conflict", {}),
    415: ('Unsupported media type "multipart/form-data" in request.', "unsupported_media_type", {}),
}


def error_responses(*statuses: int, codes: dict[int, tuple] | None = None) -> dict[int, OpenApiResponse]:
    """OpenAPI answers for the error statuses an operation gives, each with the codes it may carry.

    ``codes`` maps a status to error codes: a string, or a DomainError class (its
    ``code`` and ``default_detail`` also make the example).
    """
    responses = {}
    for status in statuses:
        description = _ERROR_DESCRIPTIONS[status]
        detail, code, extra = _ERROR_EXAMPLES[status]
        more = (codes or {}).get(status, ())
        if more:
            description += "; " + ", ".join(f"`{getattr(c, 'code', c)}`" for c in more)
            first = more[0]
            if status != 400 and not isinstance(first, str):
                detail, code, extra = first.default_detail, first.code, {}
        responses[status] = OpenApiResponse(
            ErrorOut,
            description=description,
            examples=[
                OpenApiExample(
                    f"{status} {code}",
                    value={"detail": detail, "code": code, "extra": extra},
                    status_codes=[status],
                    response_only=True,
                )
            ],
        )
    return responses


# The errors of every token-protected list (a page past the last is a 404), and of every detail view.
LIST_ERRORS = (400, 401, 403, 404)
DETAIL_ERRORS = (401, 403, 404)
