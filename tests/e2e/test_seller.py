"""Journey 2: a seller logs in, creates a product with two photos, waits until both are indexed
(the dashboard says so), and finds the product through search."""

import re
import time
import uuid

import pytest

pytestmark = pytest.mark.e2e


def test_a_seller_lists_a_product_with_two_photos_and_finds_it_through_search(
    page, live_site, login, photo_file
):
    title = f"Lighthouse raincoat {uuid.uuid4().hex[:6]}"
    front = photo_file("front.jpg", colour=(250, 200, 0), shape="circle", seed=11)
    back = photo_file("back.jpg", colour=(20, 120, 40), seed=12)

    login(page, "seller1")
    page.get_by_role("link", name="Seller dashboard").click()
    page.wait_for_load_state()
    page.get_by_role("link", name="New product").click()
    page.wait_for_load_state()

    page.get_by_label("Title").fill(title)
    page.get_by_label("Brand").fill("Harbour")
    page.get_by_label("Category", exact=True).select_option(index=1)
    page.get_by_label("Price").fill("59.00")
    page.get_by_label("Currency").fill("EUR")
    page.get_by_label("Photos").set_input_files([front, back])
    page.get_by_role("button", name="Publish").click()
    page.wait_for_load_state()
    assert page.get_by_text(f"“{title}” was published.").is_visible()

    # The worker embeds both photos; the dashboard shows "indexed" for each.
    page.get_by_role("link", name="← Seller dashboard").click()
    page.wait_for_load_state()
    row = page.get_by_role("row").filter(has_text=title)
    deadline = time.monotonic() + 120
    while row.get_by_text("indexed", exact=True).count() < 2:
        assert row.get_by_text(re.compile("^failed")).count() == 0, row.inner_text()
        assert time.monotonic() < deadline, f"not indexed in time: {row.inner_text()}"
        time.sleep(1)
        page.reload()
    assert row.get_by_text("Active", exact=True).is_visible()

    # Search with the front photo: the product is found, and its page opens.
    page.get_by_role("link", name="Search").click()
    page.wait_for_load_state()
    page.get_by_label("Photo", exact=True).set_input_files(front)
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state()
    hit = page.get_by_role("link").filter(has_text=title)
    hit.first.wait_for()
    hit.first.click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == title
