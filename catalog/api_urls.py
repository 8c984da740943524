from django.urls import path

from catalog import api

urlpatterns = [
    path("products/", api.ProductListApi.as_view(), name="api-products"),
    path("products/<int:pk>/", api.ProductDetailApi.as_view(), name="api-product"),
    path("products/<int:pk>/images/", api.ProductImagesApi.as_view(), name="api-product-images"),
    path(
        "products/<int:pk>/images/order/",
        api.ProductImagesOrderApi.as_view(),
        name="api-product-images-order",
    ),
    path(
        "products/<int:pk>/images/<int:image_id>/",
        api.ProductImageDetailApi.as_view(),
        name="api-product-image",
    ),
    path("sellers/me/", api.SellerMeApi.as_view(), name="api-sellers-me"),
    path("auth/token/", api.TokenApi.as_view(), name="api-token"),
]
