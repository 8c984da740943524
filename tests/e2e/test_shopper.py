"""Journey 1: a shopper searches with a photo plus a text modifier, filters by category, and
opens a result."""

import re

import pytest

pytestmark = pytest.mark.e2e


def test_a_shopper_searches_by_photo_and_text_in_a_category_and_opens_a_result(
    page, live_site, photo_file
):
    category = live_site.json(
        "import json\n"
        "from django.db.models import Count, Q\n"
        "from catalog.models import Category\n"
        "c = Category.objects.annotate(n=Count('products', filter=Q(products__status='active')))"
        ".filter(n__gte=2).order_by('-n', 'path').first()\n"
        "print(json.dumps({'slug': c.slug, 'name': c.name, 'path': c.path}))"
    )
    page.goto("/")
    assert page.get_by_role("heading", name="Latest products").is_visible()

    page.get_by_label("Photo", exact=True).set_input_files(
        photo_file("query.jpg", colour=(30, 60, 160))
    )
    page.get_by_label("Description or modifier").fill("in navy")
    page.get_by_label("Category", exact=True).select_option(value=category["slug"])
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state()

    results = page.get_by_role("link").filter(has_text=re.compile(r"score -?\d"))
    results.first.wait_for()
    assert results.count() >= 1
    for i in range(results.count()):  # every card is in the chosen category
        assert category["name"] in results.nth(i).inner_text()

    title = results.first.locator(".title").inner_text()
    results.first.click()
    page.wait_for_load_state()
    assert re.search(r"/products/\d+/$", page.url)
    assert page.get_by_role("heading", level=1).inner_text() == title
    assert category["path"] in page.locator("main").inner_text()
