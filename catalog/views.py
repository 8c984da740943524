from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render

from catalog import selectors
from catalog.api_errors import errors_format
from catalog.models import ProductStatus


def product_detail(request, pk: int):
    product = selectors.product_get(pk=pk)
    if product is not None and product.status == ProductStatus.MERGED and product.merged_into_id:
        return redirect(product.merged_into, permanent=True)
    if product is None or not selectors.product_is_visible(product=product, user=request.user):
        raise Http404("No such product")
    return render(request, "catalog/product_detail.html", {"product": product})


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def page_not_found(request, exception=None):
    """handler404: the site's page, or the API's error shape for a path under /api/."""
    if _is_api(request):
        return JsonResponse(errors_format("Not found.", validation=False), status=404)
    return render(request, "404.html", status=404)


def server_error(request):
    """handler500: the site's page, or the API's error shape for a path under /api/."""
    if _is_api(request):
        return JsonResponse(errors_format("Server error.", validation=False), status=500)
    return render(request, "500.html", status=500)
