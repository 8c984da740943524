from django.shortcuts import render

from catalog import selectors


def home(request):
    return render(
        request, "visualsearch/home.html", {"products": selectors.products_latest(limit=24)}
    )
