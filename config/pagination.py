from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination

from config.fields import query_integer


class Pagination(PageNumberPagination):
    """DRF-style pages (`count`, `next`, `previous`, `results`); clients may ask for up to 500 rows.

    ``page`` and ``page_size`` are strict: ASCII digits within bounds, or a 400 naming
    the parameter (DRF would quietly serve the default page size for ``page_size=true``
    and read ``page=٣`` as page 3). A page past the last one stays a 404, as in DRF.
    """

    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        return self._integer(self.page_size_query_param, raw, maximum=self.max_page_size)

    def get_page_number(self, request, paginator):
        raw = request.query_params.get(self.page_query_param)
        if raw is None:
            return 1
        if raw in self.last_page_strings:
            return paginator.num_pages
        return self._integer(self.page_query_param, raw)

    @staticmethod
    def _integer(name: str, raw: str, *, maximum: int | None = None) -> int:
        try:
            return query_integer(raw, minimum=1, maximum=maximum)
        except ValueError as exc:
            raise ValidationError({name: [str(exc)]}) from None

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": "A page number from 1, or `last`; past the last page: 404.",
                "schema": {"oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "enum": ["last"]}]},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Rows per page (default {self.page_size}, at most {self.max_page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]
