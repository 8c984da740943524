"""``manage.py search_api_eval``: its metrics (pure) and one small run against a live server."""

from __future__ import annotations

import csv
import io
import threading

import dramatiq
import pytest
from django.core.management import CommandError, call_command
from dramatiq import Worker
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageDraw
from rest_framework.throttling import SimpleRateThrottle

from tests.visualsearch.search_helpers import PALETTE
from visualsearch.lab import api_eval, markdown, metrics, wild_photos
from visualsearch.lab.evaluation import load_products, split_ids
from visualsearch.spaces import space_activate

pytestmark = pytest.mark.usefixtures("fresh_throttles")

# --- the metrics -----------------------------------------------------------------------------


def test_precision_at_k_counts_relevant_results_and_missing_results_as_misses():
    assert metrics.precision_at_k([True, False, True, True, False], k=5) == 0.6
    assert metrics.precision_at_k([True, True], k=5) == 0.4
    assert metrics.precision_at_k([True] * 12, k=10) == 1.0


def test_ndcg_is_one_for_an_ideal_list_and_rewards_relevant_results_ranked_higher():
    assert metrics.ndcg_at_k([True, True, False], n_relevant=2) == pytest.approx(1.0)
    early = metrics.ndcg_at_k([True, False, False], n_relevant=1)
    late = metrics.ndcg_at_k([False, False, True], n_relevant=1)
    assert early == pytest.approx(1.0) and late == pytest.approx(0.5)
    # Relevant items that exist but were not found lower the score.
    assert metrics.ndcg_at_k([True], n_relevant=3) < 1.0
    assert metrics.ndcg_at_k([False, True], n_relevant=0) == 0.0


def test_the_modifier_share_is_normalised_by_how_many_relevant_items_exist():
    # Only 2 exist: finding both is perfect even in a list of 10.
    assert metrics.normalised_share([True, True] + [False] * 8, n_exist=2) == 1.0
    assert metrics.normalised_share([True] + [False] * 9, n_exist=2) == 0.5
    # Plenty exist: the top 10 is the ceiling.
    assert metrics.normalised_share([True] * 5 + [False] * 5, n_exist=40) == 0.5
    assert metrics.normalised_share([False] * 10, n_exist=0) == 0.0


def test_ece_of_a_confident_but_wrong_model_is_large_and_of_a_calibrated_one_small():
    assert metrics.expected_calibration_error([0.95] * 10, [False] * 10) == pytest.approx(0.95)
    calibrated = metrics.expected_calibration_error([0.75] * 8, [True] * 6 + [False] * 2)
    assert calibrated == pytest.approx(0.0)
    with pytest.raises(ValueError):
        metrics.expected_calibration_error([1.2], [True])


@given(
    st.lists(st.tuples(st.floats(0, 1, allow_nan=False), st.booleans()), min_size=1, max_size=200)
)
def test_ece_always_lies_within_zero_and_one(pairs):
    confidences, correct = zip(*pairs, strict=True)
    assert 0.0 <= metrics.expected_calibration_error(confidences, correct) <= 1.0


@given(st.dictionaries(st.integers(0, 9), st.integers(1, 5), min_size=1))
def test_ece_is_zero_when_every_bin_is_right_as_often_as_it_is_confident(bins):
    """Bin b holds 20·m items at its centre confidence (2b+1)/20, (2b+1)·m of them right."""
    confidences, correct = [], []
    for b, m in bins.items():
        hits = (2 * b + 1) * m
        confidences += [(2 * b + 1) / 20] * (20 * m)
        correct += [True] * hits + [False] * (20 * m - hits)
    assert metrics.expected_calibration_error(confidences, correct) == pytest.approx(0.0, abs=1e-12)


def test_paging_repeats_count_products_shown_again_on_a_later_page():
    assert metrics.pages_repeat([[1, 2, 3], [4, 5, 6], [7]]) == 0
    assert metrics.pages_repeat([[1, 2, 3], [3, 4, 5], [1, 6]]) == 2


def test_a_response_is_a_no_match_only_when_the_api_says_so():
    real = {"results": [{"product": {"id": 1}, "score": 0.3}]}
    assert not api_eval.answered_no_match(real) and not api_eval.marks_matches(real)
    weak = {"results": [{"product": {"id": 1}, "match": False}]}
    assert api_eval.answered_no_match(weak) and api_eval.marks_matches(weak)
    assert api_eval.answered_no_match({"results": [], "no_match": True})
    mixed = {
        "results": [{"product": {"id": 1}, "match": True}, {"product": {"id": 2}, "match": False}]
    }
    assert not api_eval.answered_no_match(mixed)


def test_the_report_section_is_replaced_in_place_and_other_sections_are_kept(tmp_path):
    path = tmp_path / "benchmarks.md"
    path.write_text("# Benchmarks\n\n## Before\n\nkeep me\n\n## After\n\nkeep me too\n")
    markdown.section_write(path=path, section=f"{api_eval.SECTION}\n\nrun 1\n")
    markdown.section_write(path=path, section=f"{api_eval.SECTION}\n\nrun 2\n")
    text = path.read_text()
    assert text.count(api_eval.SECTION) == 1 and "run 2" in text and "run 1" not in text
    assert "keep me\n" in text and "keep me too" in text
    # In the middle of the file, it is replaced there and the next section survives.
    path.write_text(f"# B\n\n{api_eval.SECTION}\n\nold\n\n## Next\n\nstays\n")
    markdown.section_write(path=path, section=f"{api_eval.SECTION}\n\nnew\n")
    assert path.read_text() == f"# B\n\n{api_eval.SECTION}\n\nnew\n\n## Next\n\nstays\n"


def test_a_hand_written_subsection_after_the_report_section_survives_a_re_run(tmp_path):
    path = tmp_path / "benchmarks.md"
    baseline = "### Baseline before the shipped space\n\nkept for comparison\n"
    path.write_text(f"# B\n\n{api_eval.SECTION}\n\nold\n\n{baseline}\n## Next\n\nstays\n")
    markdown.section_write(path=path, section=f"{api_eval.SECTION}\n\nnew\n")
    assert path.read_text() == (
        f"# B\n\n{api_eval.SECTION}\n\nnew\n\n{baseline}\n## Next\n\nstays\n"
    )


def test_the_out_of_catalog_queries_are_seeded_and_about_forty():
    first, again = api_eval.ooc_queries(seed=0), api_eval.ooc_queries(seed=0)
    assert first == again and 35 <= len(first) <= 45
    assert "espresso machine" in first and api_eval.ooc_queries(seed=1) != first


def test_a_folder_without_styles_csv_is_refused_with_the_reason(tmp_path):
    with pytest.raises(CommandError, match="styles.csv"):
        call_command("search_api_eval", "--data", str(tmp_path))


# --- one small run against a live server ---------------------------------------------------

N_STYLES = 50
COLOURS = ["Red", "Blue", "Green"]
TYPES = ["Tshirts", "Caps"]


def _photo(colour: str, seed: int) -> Image.Image:
    image = Image.new("RGB", (60, 80), (250, 250, 250))
    draw = ImageDraw.Draw(image)
    draw.rectangle([10 + seed % 5, 15, 50, 65], fill=PALETTE[colour.lower()])
    return image


def fashion_folder(root):
    """A styles.csv folder of generated photos; the held-out items get every colour and type
    several times, so each held-out photo has same-colour neighbours."""
    (root / "images").mkdir(parents=True)
    ids = list(range(1001, 1001 + N_STYLES))
    _, heldout = split_ids(ids, seed=0)
    order = {i: n for n, i in enumerate(sorted(heldout))}
    with open(root / "styles.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "gender", "masterCategory", "subCategory", "articleType",
                         "baseColour", "season", "year", "usage", "productDisplayName",
                         "image"])  # fmt: skip
        for n, style in enumerate(ids):
            j = order.get(style, n)
            colour, type_ = COLOURS[j % 3], TYPES[(j // 3) % 2]
            pattern = "Striped" if j % 4 == 0 else "Solid"
            _photo(colour, j).save(root / "images" / f"{style}.jpg", "JPEG", quality=92)
            writer.writerow([style, "Men", "Apparel", "Topwear", type_, colour, "Summer", "2012",
                             "Casual", f"Acme Men {colour} {pattern} {type_}",
                             f"images/{style}.jpg"])  # fmt: skip
    return len(heldout)


@pytest.fixture
def fast_throttles(settings, monkeypatch):

    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "search": "100000/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)


@pytest.fixture
def embedding_worker():
    """A real dramatiq worker (in this process, so it uses the word embedder) on the queue."""

    worker = Worker(dramatiq.get_broker(), queues={"embedding"}, worker_threads=1)
    worker.start()
    yield worker
    threading.Thread(target=worker.stop, daemon=True).start()


@pytest.mark.django_db(transaction=True)
def test_the_command_imports_the_held_out_split_searches_a_live_server_and_reports(
    tmp_path, live_server, word_space, word_embedder, fast_throttles, embedding_worker
):
    space_activate(name="words")
    n_heldout = fashion_folder(tmp_path / "fashion")
    report = tmp_path / "benchmarks.md"
    report.write_text("# Benchmarks\n\n## Someone else's\n\nuntouched\n")
    out = io.StringIO()
    call_command(
        "search_api_eval", "--url", live_server.url, "--data", str(tmp_path / "fashion"),
        "--seller", "heldout", "--queries", "6", "--report", str(report), "--wait", "120",
        stdout=out,
    )  # fmt: skip
    printed = out.getvalue()
    assert f"importing {n_heldout} held-out products" in printed
    assert "| measure, through the API | value | target | queries |" in printed
    rows = {
        line.split(" | ")[0].lstrip("| "): line.split(" | ")[1]
        for line in printed.splitlines()
        if line.startswith("| ") and " | " in line
    }
    assert rows["photo → products: P@10, same articleType (own product dropped)"] != "n/a"
    # The word embedder sees colour: a photo's nearest other product has its colour, and the
    # stored zero-shot colour of that product is right.
    assert rows["photo: the top hit's zero-shot colour is its true baseColour"] == "1.000"
    assert rows["stored colour: accuracy (gallery products whose label maps)"] == "1.000"
    assert 0 <= float(rows["photo, expanded (`expand`): P@10"]) <= 1
    # more like this, through GET /api/products/<id>/similar/?seller=…: colour-only word
    # vectors find same-coloured items, whatever their type, so only the range is known
    assert 0 <= float(rows["more like this: P@5"]) <= 1
    assert "latency of a similar query, p50 / p95 (ms, client side)" in rows
    # shopper photos: the same products pasted onto scenes, uploaded through the API; the word
    # space has no training domain, so every photo is searched whole (no part named)
    shopper = "shopper photo (simulated, the same products off the studio background): P@10"
    assert 0 <= float(rows[shopper]) <= 1
    assert rows["shopper photo: answers that name a searched part (`subjects`)"] == "0/6"
    assert "shopper photos against the catalog shots of the same products" in printed
    unmatched = rows["shopper photo: answered with no match (their product is in the gallery)"]
    assert 0 <= int(unmatched.split("/")[0]) <= 6 and unmatched.endswith("/6")
    assert "latency of a shopper photo query, p50 / p95 (ms, client side)" in rows
    # photos of things a fashion shop does not sell (scikit-image's samples and two more),
    # uploaded whole and cropped
    foreign = rows["photos of things the shop does not sell answered with no match"]
    assert foreign.endswith(f"/{2 * (len(wild_photos.FOREIGN_PHOTOS) + 2)}")
    assert "query expansion against photo only, same queries in this run: P@10" in printed
    assert rows["photo, expanded queries whose pages 1–3 (k=10) share no product"].endswith(
        "repeated products)"
    )
    assert float(rows["text: nDCG@10 of BM25 over the same gallery titles"]) > 0
    assert "out-of-catalog queries answered with no match" in rows
    assert rows["photo queries whose pages 1–3 (k=10) share no product"].endswith(
        "repeated products)"
    )
    section = report.read_text()
    assert section.count(api_eval.SECTION) == 1 and "untouched" in section
    assert "search_api_eval --url" in section and "no GPU" in section

    # A rerun finds the gallery imported and does not import it again.
    again = io.StringIO()
    call_command(
        "search_api_eval", "--url", live_server.url, "--data", str(tmp_path / "fashion"),
        "--seller", "heldout", "--queries", "2", stdout=again,
    )  # fmt: skip
    assert f"{n_heldout} held-out products already imported" in again.getvalue()


def test_the_validation_split_is_space_fits_validation_rows_and_never_the_test_split(tmp_path):
    from visualsearch.lab.space_fit import split  # noqa: PLC0415

    fashion_folder(tmp_path / "fashion")
    test = {i.external_id for i in api_eval.heldout_items(tmp_path / "fashion")}
    val = {i.external_id for i in api_eval.heldout_items(tmp_path / "fashion", "validation")}
    products = load_products(tmp_path / "fashion")
    assert val == {str(products[i].id) for i in split(products)[1]}
    assert val and test and not val & test
    with pytest.raises(api_eval.EvalError, match="unknown split"):
        api_eval.heldout_items(tmp_path / "fashion", "train")


def test_each_split_writes_its_own_report_section(tmp_path):
    path = tmp_path / "b.md"
    markdown.section_write(path=path, section=f"{api_eval.SECTION}\n\ntest run\n")
    markdown.section_write(path=path, section=f"{api_eval.VALIDATION_SECTION}\n\nvalidation run\n")
    markdown.section_write(path=path, section=f"{api_eval.SECTION}\n\ntest run 2\n")
    text = path.read_text()
    assert "validation run" in text and "test run 2" in text and "test run\n" not in text
