from django.contrib.auth import views as auth_views
from django.urls import path

from catalog import accounts, dashboard, views

urlpatterns = [
    path("products/<int:pk>/", views.product_detail, name="product-detail"),
    # accounts
    path("accounts/login/", accounts.ThrottledLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", accounts.signup, name="signup"),
    path("accounts/", accounts.account, name="account"),
    path("accounts/token/", accounts.token_create, name="token-create"),
    path("accounts/token/revoke/", accounts.token_revoke, name="token-revoke"),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("seller/become/", accounts.seller_become, name="seller-become"),
    # seller dashboard
    path("seller/", dashboard.dashboard, name="seller-dashboard"),
    path("seller/products/new/", dashboard.product_new, name="seller-product-new"),
    path("seller/products/<int:pk>/", dashboard.product_edit, name="seller-product-edit"),
    path(
        "seller/products/<int:pk>/status/", dashboard.product_status, name="seller-product-status"
    ),
    path(
        "seller/products/<int:pk>/delete/", dashboard.product_delete, name="seller-product-delete"
    ),
    path("seller/products/<int:pk>/photos/", dashboard.images_add, name="seller-images-add"),
    path(
        "seller/products/<int:pk>/photos/update/",
        dashboard.images_update,
        name="seller-images-update",
    ),
    path("seller/imports/", dashboard.import_start, name="seller-import"),
    path("seller/imports/<int:pk>/", dashboard.import_status, name="seller-import-status"),
    path(
        "seller/imports/<int:pk>/errors.csv", dashboard.import_errors, name="seller-import-errors"
    ),
]
