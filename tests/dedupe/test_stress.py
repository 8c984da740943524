"""The codeless stress lab: model numbers out, measurements and words kept, test never read."""

import csv

from hypothesis import given
from hypothesis import strategies as st

from dedupe.lab.stress import codeless, folder_write, is_code

letters = st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=4)
digits = st.text("0123456789", min_size=1, max_size=4)
codes = st.builds(lambda a, b, c, sep: f"{a}{b}{sep}{c}", letters, digits, letters,
                  st.sampled_from(["", "-", "/"])).filter(lambda c: len(c.replace("-", "").replace("/", "")) >= 4)  # fmt: skip
words = st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=10)


@given(code=codes, left=st.lists(words, max_size=4), right=st.lists(words, max_size=4))
def test_a_code_is_taken_out_and_the_words_stay(code, left, right):
    text = " ".join([*left, code.upper(), *right])
    assert is_code(code)
    assert codeless(text) == " ".join([*left, *right])


@given(amount=st.integers(1, 999), unit=st.sampled_from(["gb", "mm", "mah", "w", "hz", "mp"]))
def test_a_measurement_with_its_unit_is_not_a_code(amount, unit):
    assert not is_code(f"{amount}{unit}")
    assert codeless(f"canon lens {amount}{unit}") == f"canon lens {amount}{unit}"


def test_catalogue_numbers_go_short_numbers_stay():
    assert codeless("sigma zoom lens 880306 for 35 cameras") == "sigma zoom lens for 35 cameras"


def _csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_the_folder_reads_train_and_valid_only_and_empties_the_model_numbers(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    row = lambda i, label: {"pair_id": i, "left_title": f"sony camera dscw{150 + i}r",  # noqa: E731
                            "left_modelno": f"dscw{150 + i}r", "right_title": "sony camera",
                            "right_modelno": "", "label": label}  # fmt: skip
    _csv(src / "train.csv", [row(0, 1), row(1, 0)])
    _csv(src / "valid.csv", [row(i, i % 2) for i in range(2, 12)])
    (src / "test.csv").write_text("not read\n", encoding="utf-8")
    out = folder_write(src, tmp_path / "out", strip=True, seed=0)
    read = {s: list(csv.DictReader(open(out / f"{s}.csv", encoding="utf-8")))
            for s in ("train", "valid", "test")}  # fmt: skip
    assert [len(read[s]) for s in ("train", "valid", "test")] == [2, 5, 5]
    held = {r["pair_id"] for r in read["valid"]} | {r["pair_id"] for r in read["test"]}
    assert held == {str(i) for i in range(2, 12)}  # the two halves of valid, disjoint
    for rows in read.values():
        assert all(r["left_title"] == "sony camera" and r["left_modelno"] == "" for r in rows)
    kept = folder_write(src, tmp_path / "kept", strip=False, seed=0)
    assert "dscw150r" in (kept / "train.csv").read_text(encoding="utf-8")
