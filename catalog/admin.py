from django.contrib import admin
from django.utils.html import format_html

from catalog.models import Category, Product, ProductImage, Seller


@admin.register(Seller)
class SellerAdmin(admin.ModelAdmin):
    list_display = ["display_name", "slug", "user", "created_at"]
    search_fields = ["display_name", "slug", "user__username", "user__email"]
    prepopulated_fields = {"slug": ["display_name"]}
    raw_id_fields = ["user"]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["path", "slug", "parent"]
    search_fields = ["name", "slug", "path"]
    list_filter = [("parent", admin.RelatedOnlyFieldListFilter)]
    readonly_fields = ["lineage", "path"]


class ProductImageInline(admin.TabularInline):
    model = ProductImage
    extra = 0
    fields = ["preview", "file", "position", "kind", "width", "height", "sha256"]
    readonly_fields = ["preview", "width", "height", "sha256"]

    @admin.display(description="")
    def preview(self, obj):
        return format_html('<img src="{}" style="height:60px">', obj.file.url) if obj.pk else ""


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["title", "seller", "category", "brand", "price", "currency", "status",
                    "updated_at"]  # fmt: skip
    list_filter = ["status", "currency", ("category", admin.RelatedOnlyFieldListFilter),
                   ("seller", admin.RelatedOnlyFieldListFilter)]  # fmt: skip
    search_fields = ["title", "brand", "external_id", "description"]
    raw_id_fields = ["seller", "merged_into", "category"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [ProductImageInline]


@admin.register(ProductImage)
class ProductImageAdmin(admin.ModelAdmin):
    list_display = ["id", "product", "position", "kind", "width", "height", "created_at"]
    list_filter = ["kind"]
    search_fields = ["product__title", "sha256"]
    raw_id_fields = ["product"]
