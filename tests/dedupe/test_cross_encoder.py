"""The lab cross-encoder: Ditto-style serialisation, summaries, augmentation, and a short fit."""

import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.comparison import Listing
from dedupe.lab import cross_encoder as ce
from dedupe.tfidf import IdfTable

WORDS = st.text(alphabet="abcdefgh", min_size=1, max_size=6)


def test_serialise_names_each_present_field_and_leaves_out_missing_ones():
    text = ce.serialise(Listing(title="Sony Bravia 40in", brand="Sony", price=499.0))
    assert text == "COL title VAL Sony Bravia 40in COL brand VAL Sony COL price VAL 499.00"
    assert "modelno" not in text and "description" not in text


@settings(max_examples=80, deadline=None)
@given(words=st.lists(WORDS, min_size=1, max_size=60), keep=st.integers(1, 30))
def test_a_summary_keeps_the_rarest_distinct_words_in_their_order(words, keep):
    docs = [words[: i + 1] for i in range(len(words))]  # early words are in more documents
    idf = IdfTable.from_documents(docs)
    summary = ce.summarise(" ".join(words), idf, keep=keep).split()
    assert len(summary) <= keep
    assert set(summary) <= set(words)
    if len(words) > keep:
        assert len(summary) == len(set(summary)) == min(keep, len(set(words)))
        # in the order of first appearance
        firsts = [words.index(w) for w in summary]
        assert firsts == sorted(firsts)
        # no word left out is rarer than a word kept
        left_out = set(words) - set(summary)
        assert min(idf.idf[w] for w in summary) >= max((idf.idf[w] for w in left_out), default=0)


@settings(max_examples=80, deadline=None)
@given(words=st.lists(WORDS, min_size=1, max_size=40), seed=st.integers(0, 999))
def test_dropping_a_span_removes_at_most_three_words_and_never_a_field_marker(words, seed):
    text = ce.serialise(Listing(title=" ".join(words)))
    out = ce._drop_span(text, random.Random(seed))
    assert len(text.split()) - 3 <= len(out.split()) <= len(text.split())
    assert out.split().count("COL") == text.split().count("COL")
    assert out.split().count("VAL") == text.split().count("VAL")


def test_the_best_threshold_separates_separable_logits():
    logits = np.array([-3.0, -2.0, -1.0, 1.5, 2.0, 3.0])
    labels = np.array([0, 0, 0, 1, 1, 1])
    threshold, f1 = ce.f1_best(logits, labels)
    assert f1 == 1.0 and -1.0 < threshold <= 1.5


def test_a_short_fit_learns_identical_listings_from_unrelated_ones():
    rng = random.Random(0)
    vocab = [f"w{i}" for i in range(300)]

    def pairs(n):
        out, labels = [], []
        for i in range(n):
            a = Listing(title=" ".join(rng.sample(vocab, 5)), price=float(rng.randint(5, 500)))
            same = i % 2 == 0
            b = a if same else Listing(title=" ".join(rng.sample(vocab, 5)), price=a.price)
            out.append((a, b))
            labels.append(int(same))
        return out, labels

    train, y = pairs(96)
    valid, yv = pairs(40)
    model, history = ce.train(pairs=train, labels=y, valid_pairs=valid, valid_labels=yv,
                              epochs=3, batch_size=16, lr=1e-4, max_seconds=240,
                              progress=False, log=lambda *_: None)  # fmt: skip
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert model.meta["valid_f1"] >= 0.75  # predicting "duplicate" for all gets 0.67
    z = model.logits(valid)
    assert z[np.array(yv) == 1].mean() > z[np.array(yv) == 0].mean()
