from django.http import Http404
from django.shortcuts import redirect, render

from catalog import selectors
from catalog.models import ProductStatus


def product_detail(request, pk: int):
    product = selectors.product_get(pk=pk)
    if product is None or (product.status == ProductStatus.DELETED and not request.user.is_staff):
        raise Http404("No such product")
    if product.status == ProductStatus.MERGED and product.merged_into_id:
        return redirect(product.merged_into, permanent=True)
    owner = request.user.is_authenticated and product.seller.user_id == request.user.pk
    if product.status != ProductStatus.ACTIVE and not (owner or request.user.is_staff):
        raise Http404("No such product")
    return render(
        request,
        "catalog/product_detail.html",
        {"product": product, "similar": _similar(product) if product.is_active else []},
    )


def _similar(product, k: int = 8) -> list:
    """(product, score) pairs that look like ``product``, best score first (MMR picks a varied
    set; the page shows it in score order); empty until it has vectors."""
    from visualsearch.search import EmptyQuery, NoActiveSpace, products_similar

    try:
        results = products_similar(product=product, k=k, diversity=0.3).results
    except (EmptyQuery, NoActiveSpace):
        return []
    return sorted(results, key=lambda pair: -pair[1])


def page_not_found(request, exception=None):
    return render(request, "404.html", status=404)


def server_error(request):
    return render(request, "500.html", status=500)
