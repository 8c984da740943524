"""The search page `/`. Parsing and rendering only; the search itself is ``search.search``.

The form posts to itself. After a photo search the page carries a small JPEG copy of the photo
in a hidden field (``photo_kept``), so the page buttons and facet filters can search again with
the same photo without asking for it once more, and without any server-side state.
"""

import base64
import binascii
import dataclasses
import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django.shortcuts import render
from rest_framework.throttling import ScopedRateThrottle

from catalog import selectors
from catalog.models import Category
from catalog.services import image_validate
from visualsearch.attributes import ATTRIBUTE_PARAMS, TAXONOMY
from visualsearch.search import EmptyQuery, NoActiveSpace, search
from visualsearch.serializers import SearchInputSerializer, attributes_render

QUERY_FIELDS = ("text", "image")
KEPT_PHOTO_SIDE = 512  # the kept copy is only re-embedded, at the model's input size or less


def _kept_photos(data) -> list:
    """The photos of the previous search, from their hidden copies (bad ones are dropped)."""
    files = []
    for number, encoded in enumerate(data.getlist("photo_kept")[:4]):
        try:
            content = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        files.append(SimpleUploadedFile(f"photo-{number}.jpg", content, "image/jpeg"))
    return files


def _keep(checked_images) -> list[str]:
    """Small base64 JPEG copies of the query photos for the hidden ``photo_kept`` fields."""
    kept = []
    for checked in checked_images:
        image = checked.rgb().copy()
        image.thumbnail((KEPT_PHOTO_SIDE, KEPT_PHOTO_SIDE))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90)
        kept.append(base64.b64encode(buffer.getvalue()).decode("ascii"))
    return kept


def _kept_shown(kept_photos: list[str], subjects) -> list[dict]:
    """The kept photos as the page shows them, each with the part of it that was searched as
    percentages of its sides (None: the whole photo, or no search ran), so the page can outline
    it."""
    shown = []
    for number, encoded in enumerate(kept_photos):
        subject = subjects[number] if number < len(subjects) else None
        box = None
        if subject is not None and subject.box is not None:
            (left, top, right, bottom), (width, height) = subject.box, subject.size
            box = {
                "left": round(100 * left / width, 1),
                "top": round(100 * top / height, 1),
                "width": round(100 * (right - left) / width, 1),
                "height": round(100 * (bottom - top) / height, 1),
            }
        shown.append({"data": encoded, "box": box})
    return shown


def _query_data(request):
    if request.method == "POST":
        data = request.POST.copy()
        # A chosen file counts even when empty, so the form can say it is empty.
        uploads = [f for f in request.FILES.getlist("image") if f.name]
        if not uploads and not data.get("forget_photo"):
            uploads = _kept_photos(data)
        data.setlist("image", uploads)
    elif any(request.GET.get(name) for name in (*QUERY_FIELDS, "q")):
        data = request.GET.copy()
        # "?q=" is how links and browsers' search shortcuts write a query: it is the text
        if data.get("q") and not data.get("text"):
            data["text"] = data["q"]
    else:
        return None
    # "Search instead for …" asks for these words as typed: correction stays off while the text
    # is still those words (pages, facets), and comes back once the shopper types something else.
    as_typed = data.get("as_typed")
    if as_typed is not None:
        data["correct"] = "false" if as_typed.strip() == data.get("text", "").strip() else "true"
    # A facet button picks one attribute value ("pick_colour=red"); a page button sets "page".
    for param in ATTRIBUTE_PARAMS.values():
        picked = data.get(f"pick_{param}")
        if picked is not None:
            data[param] = picked
    return data


def _attribute_fields(form: dict) -> list[dict]:
    return [
        {
            "param": param,
            "label": _label(param),
            "choices": list(TAXONOMY[facet]["labels"]),
            "value": form.get(param, ""),
        }
        for facet, param in ATTRIBUTE_PARAMS.items()
    ]


def _facets(result, form: dict) -> list[dict]:
    facets = []
    for facet, param in ATTRIBUTE_PARAMS.items():
        counts = result.facets.get(facet)
        if counts:
            values = [
                {"value": value, "count": count, "selected": form.get(param) == value}
                for value, count in counts.items()
            ]
            facets.append({"param": param, "label": _label(param), "values": values})
    return facets


def _flat(messages) -> list[str]:
    """A field's messages as plain strings (a photo's are keyed by its index in the list)."""
    if isinstance(messages, dict):
        return [text for value in messages.values() for text in _flat(value)]
    if isinstance(messages, list | tuple):
        return [text for value in messages for text in _flat(value)]
    return [str(messages)]


def _label(param: str) -> str:
    return "Item type" if param == "item_type" else param.capitalize()


class _SearchScope:
    """Stands in for a DRF view: the page shares the API's "search" throttle and budget."""

    throttle_scope = "search"


def _throttled(request) -> int | None:
    """Seconds to wait when this client used up the "search" rate (API and page together)."""
    throttle = ScopedRateThrottle()
    if throttle.allow_request(request, _SearchScope()):
        return None
    return max(1, int(throttle.wait() or 1))


def home(request):
    """The search page; without a query it shows the latest products. Searches count against
    the same THROTTLE_SEARCH budget as the search API."""
    context = {
        "categories": Category.objects.order_by("path"),
        "form": {},
        "errors": {},
        "searched": False,
        "attribute_fields": _attribute_fields({}),
    }
    data = _query_data(request)
    if data is None:
        context["products"] = selectors.products_latest(limit=24)
        return render(request, "visualsearch/home.html", context)
    form = {key: data.get(key, "") for key in data if key not in ("image", "photo_kept")}
    context["form"] = form
    context["attribute_fields"] = _attribute_fields(form)
    context["searched"] = True
    wait = _throttled(request)
    if wait is not None:
        context["errors"] = {
            "non_field_errors": [f"Too many searches. Try again in {wait} seconds."]
        }
        response = render(request, "visualsearch/home.html", context, status=429)
        response["Retry-After"] = str(wait)
        return response
    serializer = SearchInputSerializer(data=data)
    status = 200
    if not serializer.is_valid():
        context["errors"] = {field: _flat(value) for field, value in serializer.errors.items()}
        status = 400
    else:
        data = serializer.validated_data
        reused = request.method == "POST" and not any(
            f.size for f in request.FILES.getlist("image")
        )
        # Photos sent back from the page are kept as they came (re-encoding a JPEG changes it);
        # new uploads get their small copy made here.
        context["kept_photos"] = (
            request.POST.getlist("photo_kept")[: len(data["image"])]
            if reused and data["image"]
            else _keep(data["image"])
        )
        # shown without an outline until a search says what of each photo it searched
        context["kept"] = _kept_shown(context["kept_photos"], [])
        # Search with the kept copies themselves, so page 2 (which sends them back) ranks the
        # very same pixels as page 1, and the pages never repeat a product.
        query = dataclasses.replace(
            serializer.search_query(),
            images=[
                image_validate(base64.b64decode(encoded)).rgb()
                for encoded in context["kept_photos"]
            ],
        )
        try:
            result = search(query)
        except NoActiveSpace as error:
            context["errors"] = {"non_field_errors": [str(error)]}
            status = 503
        except EmptyQuery as error:
            context["errors"] = {"non_field_errors": [str(error)]}
            status = 400
        else:
            context["result"] = result
            context["kept"] = _kept_shown(context["kept_photos"], result.subjects)
            context["subject_outlined"] = any(photo["box"] for photo in context["kept"])
            context["hits"] = [
                {
                    "product": product,
                    "score": score,
                    "relevance": result.relevance.get(product.pk),
                    "match": result.matches.get(product.pk, True),
                    "attributes": attributes_render(result.attributes.get(product.pk, {})),
                }
                for product, score in result.results
            ]
            context["matches"] = [hit for hit in context["hits"] if hit["match"]]
            context["weaker"] = [hit for hit in context["hits"] if not hit["match"]]
            context["facets"] = _facets(result, form)
    return render(request, "visualsearch/home.html", context, status=status)
