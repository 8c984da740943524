"""`manage.py dedupe_train (--pairs CSV [--valid CSV] | --from-decisions | --image-evidence DIR)`.

--pairs: labelled pairs in the Magellan format (left_*/right_*/label). With --valid, the model is
Platt-calibrated and its threshold chosen on those pairs.
--from-decisions: the moderators' decisions (confirmed = 1, dismissed = 0) with the signals
stored on each pair; refuses with a message when there are too few of either.

--image-evidence: refit only the photo terms (`dedupe.lab.image_evidence`) on a folder of real
product photos in the fashion-dataset layout (styles.csv + images/), keeping the text terms.
With --stacked, the photo terms are fitted with the text model's logit as a fixed offset, on
listing pairs of the set's train split (`dedupe.lab.stacked`), instead of apart from it;
--colour-labels adds the photos' colour-label terms (the shipped space's colour head).

Signals absent from every training pair (photos, when training on text benchmarks) keep the
current model's values for them, so the fitted image terms survive a text-only refit.
"""

import time
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from dedupe import scoring
from dedupe.lab import fitting
from dedupe.lab.evaluation import read_pairs, signals_for
from dedupe.lab.fitting import fit_from_signals
from dedupe.lab.image_evidence import evidence_fold, evidence_from_photos
from dedupe.lab.stacked import stacked_from_photos
from dedupe.selectors import NotEnoughDecisions, decisions_training_rows


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
        source.add_argument("--image-evidence", type=Path, metavar="DIR")
        parser.add_argument("--photos", type=int, default=1500, help="train photos (evidence)")
        parser.add_argument(
            "--stacked", action="store_true",
            help="with --image-evidence: fit the photo terms against the text logit",
        )  # fmt: skip
        parser.add_argument(
            "--colour-labels", action="store_true",
            help="with --stacked: also fit the photos' colour-label terms (the shipped space's "
                 "colour head on each photo), reported beside the fit without them",
        )  # fmt: skip
        parser.add_argument("--valid", type=Path)
        parser.add_argument("--out", type=Path, default=scoring.DEFAULT_MODEL_PATH)

    def handle(self, *args, **opts):
        previous = scoring.model_load()
        if opts["image_evidence"]:
            self._image_evidence(previous=previous, data_dir=opts["image_evidence"], opts=opts)
            return
        if opts["from_decisions"]:
            try:
                rows, labels, positives, negatives = decisions_training_rows()
            except NotEnoughDecisions as exc:
                raise CommandError(str(exc)) from None
            model = fit_from_signals(rows, labels)
            model.meta["trained_on"] = (
                f"moderator decisions ({positives} confirmed, {negatives} dismissed)"
            )
            model.threshold = previous.threshold
            self.stdout.write(f"fitted on {positives} confirmed and {negatives} dismissed pairs")
        else:
            pairs, labels = read_pairs(opts["pairs"])
            model = fitting.fit(pairs_signals=signals_for(pairs, progress=True), labels=labels)
            if opts["valid"]:
                vp, vl = read_pairs(opts["valid"])
                vs = signals_for(vp, progress=True)
                model = fitting.calibrate(model=model, pairs_signals=vs, labels=vl)
                probs = model.proba(scoring.feature_matrix(vs))
                model.threshold, f1 = fitting.best_threshold(probs=probs, labels=np.asarray(vl))
                self.stdout.write(f"valid f1={f1:.4f} threshold={model.threshold:.3f}")
            model.meta["trained_on"] = str(opts["pairs"])
        kept = _keep_absent_priors(model=model, previous=previous)
        if kept:
            model.meta["image_priors"] = previous.meta.get("image_priors", "kept from before")
            self.stdout.write(f"kept the previous terms for absent signals: {', '.join(kept)}")
        scoring.model_save(model=model, path=opts["out"])
        scoring._default = None
        self.stdout.write(f"wrote {opts['out']}")

    def _image_evidence(self, *, previous, data_dir: Path, opts) -> None:

        if not (data_dir / "styles.csv").is_file():
            raise CommandError(
                f"{data_dir} has no styles.csv (expected the fashion-dataset layout)"
            )
        if opts["stacked"]:
            fit, model = stacked_from_photos(
                model=previous, data_dir=data_dir, photos=opts["photos"],
                held_out=max(opts["photos"] // 3, 50),
                threshold=float(settings.DEDUPE_REVIEW_THRESHOLD),
                colour_labels=opts["colour_labels"], log=self.stdout.write,
            )  # fmt: skip
            command = f"manage.py dedupe_train --image-evidence {data_dir.name} --stacked"
            if opts["photos"] != 1500:
                command += f" --photos {opts['photos']}"
            if opts["colour_labels"]:
                command += " --colour-labels"
            model.meta["image_evidence"]["made_by"] = command
            model.meta["version"] = time.strftime("%Y-%m-%d") + "-tfidf-variants-stacked-photo"
        else:
            fit = evidence_from_photos(
                data_dir=data_dir, train=opts["photos"], test=max(opts["photos"] // 3, 50),
                log=self.stdout.write,
            )  # fmt: skip
            model = evidence_fold(model=previous, fit=fit)
        scoring.model_save(model=model, path=opts["out"])
        scoring._default = None
        terms = ", ".join(f"{k}={v}" for k, v in model.meta["image_evidence"]["coef"].items())
        self.stdout.write(f"image log-LR = {fit.intercept:.3f} + {terms}")
        self.stdout.write(f"wrote {opts['out']}")
