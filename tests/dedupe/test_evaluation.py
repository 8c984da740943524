"""Evaluation on a small real sample of the Magellan product benchmarks (skips without data)."""

import io
import shutil
from pathlib import Path

import pytest

from dedupe.comparison import pair_signals
from dedupe.lab.evaluation import MAGELLAN_DATA as DATA
from dedupe.lab.evaluation import (
    blocking_recall,
    columns_resolve,
    parse_price,
    read_pairs,
    run,
)

pytestmark = pytest.mark.skipif(
    not (DATA / "walmart_amazon").exists(), reason=f"benchmark data absent at {DATA}"
)


def _sample(tmp_path: Path, ds: str, n: int) -> Path:
    out = tmp_path / ds
    out.mkdir()
    for split in ("train", "valid", "test"):
        lines = (DATA / ds / f"{split}.csv").read_text(encoding="utf-8").splitlines()
        head, rows = lines[0], lines[1:]
        pos = [r for r in rows if r.endswith(",1")][: n // 4]
        neg = [r for r in rows if r.endswith(",0")][: n - len(pos)]
        (out / f"{split}.csv").write_text("\n".join([head, *pos, *neg]) + "\n", encoding="utf-8")
    return out


def test_a_small_sample_trains_and_reports_the_last_line(tmp_path):

    lines = []
    res = run(dataset=_sample(tmp_path, "walmart_amazon", 120), progress=False, log=lines.append)
    assert lines[-1].startswith("test precision=") and " f1=" in lines[-1]
    assert res["f1"] > 0.6


def test_several_sources_train_one_model_and_each_test_split_is_reported(tmp_path):

    lines = []
    res = run(dataset=_sample(tmp_path, "walmart_amazon", 120),
              also=[_sample(tmp_path, "abt_buy", 120)], progress=False,
              log=lines.append)  # fmt: skip
    assert set(res["per_dataset"]) == {"walmart_amazon", "abt_buy"}
    assert any(line.startswith("abt_buy test precision=") for line in lines)
    assert lines[-1].startswith("test precision=")
    assert res["f1"] == res["per_dataset"]["walmart_amazon"][2]
    assert res["model"].meta["trained_on"] == "walmart_amazon+abt_buy"


def test_the_codeless_lab_reports_each_folder_with_and_without_codes(tmp_path):
    from django.core.management import call_command  # noqa: PLC0415

    folders = [_sample(tmp_path, "walmart_amazon", 120), _sample(tmp_path, "abt_buy", 120)]
    (folders[0] / "test.csv").write_text("not read\n", encoding="utf-8")  # valid is halved
    out = io.StringIO()
    call_command("dedupe_eval", *[a for f in folders for a in ("--codeless", str(f))], stdout=out)
    lines = out.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "walmart_amazon, codes", "walmart_amazon, codeless", "abt_buy, codes", "abt_buy, codeless"
    ]  # fmt: skip
    assert all("transfer " in line and "title_tfidf_word" in line for line in lines)
    f1 = {line.split(":")[0]: float(line.split(" F1 ")[1].split(";")[0]) for line in lines}
    assert f1["walmart_amazon, codes"] > f1["walmart_amazon, codeless"]


def test_blocking_recall_finds_most_matches_on_a_slice(tmp_path):

    src = DATA / "full_tables" / "abt_buy"
    dst = tmp_path / "abt_buy"
    dst.mkdir()
    for name in ("tableA.csv", "tableB.csv", "matches.csv"):
        shutil.copy(src / name, dst / name)
    rec = blocking_recall(blocking=dst, k=10, log=lambda _: None)
    assert rec["fused"] > 0.8


@pytest.mark.parametrize(
    ("text", "price"),
    [
        ("1999.0", 1999.0),
        ("$1,299.00", 1299.0),
        ("29.99 USD", 29.99),
        ("£12", 12.0),
        ("12,50 €", 12.5),
        ("10-20", 10.0),
        ("", None),
        (None, None),
        ("call for price", None),
    ],
)
def test_prices_are_read_as_feeds_write_them(text, price):
    assert parse_price(text) == price


def test_the_shared_sets_columns_are_read_as_before():
    assert columns_resolve(["name", "description", "price"]) == {
        "title": "name", "description": "description", "price": "price", "extra": []}  # fmt: skip
    walmart = columns_resolve(["title", "category", "brand", "modelno", "price"])
    assert walmart["brand"] == "brand" and walmart["modelno"] == "modelno"
    assert walmart["extra"] == []


def test_a_set_that_names_its_columns_otherwise_loses_no_column(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text(
        "id,left_Product_Name,left_Manufacturer,left_Colour,left_Price,"
        "right_Product_Name,right_Manufacturer,right_Colour,right_Price,label\n"
        "0,Aero Kettle 1.7l,Acme,steel,$29.99,aero kettle,,brushed steel,29.99 USD,1\n"
    )
    ((left, right),) = read_pairs(path)[0]
    assert left.title == "Aero Kettle 1.7l" and left.brand == "Acme" and left.price == 29.99
    assert right.title == "aero kettle" and right.brand is None and right.price == 29.99
    assert left.description == "steel" and right.description == "brushed steel"
    assert left.currency == right.currency == "USD"
    # no column called title or name: the first one ending in "name" is the title
    assert columns_resolve(["Beer_Name", "Brew_Factory_Name", "ABV"])["title"] == "Beer_Name"
    assert columns_resolve(["song", "artist"])["title"] == "song"


def test_prices_in_two_currencies_are_not_compared(tmp_path):
    path = tmp_path / "valid.csv"
    path.write_text(
        "id,left_title,left_price,right_title,right_price,label\n"
        "0,kettle,£29.99,kettle,29.99 usd,1\n"
        "1,kettle,$30,kettle,29.99,1\n"
    )
    (two, one), _ = read_pairs(path)
    assert pair_signals(a=two[0], b=two[1]).price_state == "unknown"
    assert pair_signals(a=one[0], b=one[1]).price_state == "known"
