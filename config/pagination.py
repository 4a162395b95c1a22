from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    """DRF-style pages (`count`, `next`, `previous`, `results`); clients may ask for up to 500 rows."""

    page_size_query_param = "page_size"
    max_page_size = 500
