"""`manage.py dedupe_train --pairs CSV [--valid CSV] --out JSON`: fit the JSON scoring model.

Pairs are in the Magellan format (left_*/right_*/label). With --valid, the model is
Platt-calibrated and its threshold chosen on those pairs. Training from moderator decisions
should call `dedupe.scoring.fit_from_signals(rows, labels)`.
"""

from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand

from dedupe import scoring
from dedupe.evaluation import read_pairs, signals_for


class Command(BaseCommand):
    help = "Fit the duplicate scoring model from labelled pairs and write it as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--pairs", type=Path, required=True)
        parser.add_argument("--valid", type=Path)
        parser.add_argument("--out", type=Path, default=scoring.DEFAULT_MODEL_PATH)

    def handle(self, *args, **opts):
        pairs, labels = read_pairs(opts["pairs"])
        model = scoring.fit(pairs_signals=signals_for(pairs, progress=True), labels=labels)
        if opts["valid"]:
            vp, vl = read_pairs(opts["valid"])
            vs = signals_for(vp, progress=True)
            model = scoring.calibrate(model=model, pairs_signals=vs, labels=vl)
            probs = model.proba(scoring.feature_matrix(vs))
            model.threshold, f1 = scoring.best_threshold(probs=probs, labels=np.asarray(vl))
            self.stdout.write(f"valid f1={f1:.4f} threshold={model.threshold:.3f}")
        model.meta["trained_on"] = str(opts["pairs"])
        scoring.model_save(model=model, path=opts["out"])
        self.stdout.write(f"wrote {opts['out']}")
