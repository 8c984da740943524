from django.shortcuts import render

from catalog import selectors
from catalog.models import Category
from visualsearch.api import SearchInputSerializer, search_execute
from visualsearch.search import EmptyQuery, NoActiveSpace

QUERY_FIELDS = ("text", "image")


def _query_data(request):
    if request.method == "POST":
        data = request.POST.copy()
        data.setlist("image", [f for f in request.FILES.getlist("image") if f.size])
        return data
    if any(request.GET.get(name) for name in QUERY_FIELDS):
        return request.GET
    return None


def home(request):
    """The search page; without a query it shows the latest products."""
    context = {
        "categories": Category.objects.order_by("path"),
        "form": {},
        "errors": {},
        "searched": False,
    }
    data = _query_data(request)
    if data is None:
        context["products"] = selectors.products_latest(limit=24)
        return render(request, "visualsearch/home.html", context)
    context["form"] = {key: data.get(key, "") for key in data if key != "image"}
    context["searched"] = True
    serializer = SearchInputSerializer(data=data)
    status = 200
    if not serializer.is_valid():
        context["errors"] = serializer.errors
        status = 400
    else:
        try:
            result = search_execute(serializer.validated_data)
        except NoActiveSpace as error:
            context["errors"] = {"non_field_errors": [str(error)]}
            status = 503
        except EmptyQuery as error:
            context["errors"] = {"non_field_errors": [str(error)]}
            status = 400
        else:
            context["result"] = result
    return render(request, "visualsearch/home.html", context, status=status)
