"""`manage.py dedupe_train (--pairs CSV [--valid CSV] | --from-decisions) [--out JSON]`.

--pairs: labelled pairs in the Magellan format (left_*/right_*/label). With --valid, the model is
Platt-calibrated and its threshold chosen on those pairs.
--from-decisions: the moderators' decisions (confirmed = 1, dismissed = 0) with the signals
stored on each pair; refuses with a message when there are too few of either.

Signals absent from every training pair (photos, when training on text benchmarks) keep the
current model's values for them, so the hand-set image priors survive a text-only refit.
"""

from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandError

from dedupe import scoring


def _keep_absent_priors(*, model: scoring.LinearModel, previous: scoring.LinearModel) -> list[str]:
    """Copy the previous model's terms for features that were constant (absent) in training."""
    kept = []
    for i, name in enumerate(model.feature_names):
        base = name.split("__", 1)[0]
        if not base.startswith("image_"):
            continue
        if abs(model.coef[i]) < 1e-9 and model.scale[i] == 1.0:
            model.mean[i], model.scale[i] = previous.mean[i], previous.scale[i]
            model.coef[i] = previous.coef[i]
            kept.append(name)
    return kept


class Command(BaseCommand):
    help = "Fit the duplicate scoring model (labelled pairs or moderator decisions) as JSON."

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--pairs", type=Path)
        source.add_argument("--from-decisions", action="store_true")
        parser.add_argument("--valid", type=Path)
        parser.add_argument("--out", type=Path, default=scoring.DEFAULT_MODEL_PATH)

    def handle(self, *args, **opts):
        previous = scoring.model_load()
        if opts["from_decisions"]:
            from dedupe.services import NotEnoughDecisions, model_train_from_decisions

            try:
                model, positives, negatives = model_train_from_decisions()
            except NotEnoughDecisions as exc:
                raise CommandError(str(exc)) from None
            model.threshold = previous.threshold
            self.stdout.write(f"fitted on {positives} confirmed and {negatives} dismissed pairs")
        else:
            from dedupe.evaluation import read_pairs, signals_for

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
        kept = _keep_absent_priors(model=model, previous=previous)
        if kept:
            model.meta["image_priors"] = previous.meta.get("image_priors", "kept from before")
            self.stdout.write(f"kept the previous terms for absent signals: {', '.join(kept)}")
        scoring.model_save(model=model, path=opts["out"])
        scoring._default = None
        self.stdout.write(f"wrote {opts['out']}")
