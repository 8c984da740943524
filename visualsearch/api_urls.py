from django.urls import path

from visualsearch import api

urlpatterns = [
    path("search/", api.SearchApi.as_view(), name="api-search"),
    path(
        "products/<int:product_id>/similar/",
        api.SimilarProductsApi.as_view(),
        name="api-products-similar",
    ),
]
