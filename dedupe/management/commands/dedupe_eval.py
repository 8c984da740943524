"""`manage.py dedupe_eval --dataset DIR [--also DIR ...] [--blocking DIR] [--k 10]`: thin wrapper
over `dedupe.lab.evaluation`."""

from pathlib import Path

from django.core.management.base import BaseCommand

from dedupe.lab.demo_report import demo_queue_report
from dedupe.lab.evaluation import run
from dedupe.lab.stress import main as stress_main


class Command(BaseCommand):
    help = "Train on train.csv, pick the threshold on valid.csv, report test; optional blocking."

    def add_arguments(self, parser):
        parser.add_argument("--dataset", type=Path, help="Magellan folder with train/valid/test")
        parser.add_argument("--also", type=Path, action="append", default=[],
                            help="another Magellan folder trained and calibrated together; "
                            "its test split is reported apart")  # fmt: skip
        parser.add_argument("--transfer", type=Path, action="append", default=[],
                            help="another Magellan folder whose test split the model (which "
                            "never saw it) is scored on")  # fmt: skip
        parser.add_argument("--blocking", type=Path, help="folder with tableA/tableB/matches.csv")
        parser.add_argument("--k", type=int, default=10)
        parser.add_argument("--save-model", type=Path)
        parser.add_argument("--demo", action="store_true",
                            help="report the queue against the demo's planted duplicates and "
                            "variants (after make run or seed_demo + dedupe_scan)")  # fmt: skip
        parser.add_argument("--speed", type=Path, metavar="DIR",
                            help="time serve-time pair scoring on DIR's test pairs")  # fmt: skip
        parser.add_argument("--cross-encoder", action="store_true",
                            help="also fine-tune a MiniLM cross-encoder on the train pairs and "
                            "report it alone and stacked with the feature model (lab, slow)")  # fmt: skip
        parser.add_argument("--ce-epochs", type=int, default=6)
        parser.add_argument("--ce-minutes", type=float, default=25.0,
                            help="the cross-encoder's training budget")  # fmt: skip
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--codeless", action="append", default=[], metavar="DIR",
                            help="the stress lab: train and score DIR (a Magellan folder; 'all' "
                            "for the shared sets) with its model numbers and without them, on "
                            "its train and valid splits only (dedupe/lab/stress.py)")  # fmt: skip

    def handle(self, *args, **opts):
        if opts["codeless"]:
            folders = [] if "all" in opts["codeless"] else [Path(d) for d in opts["codeless"]]
            stress_main(folders=folders or None, seed=opts["seed"], log=self.stdout.write)
        if opts["demo"]:
            demo_queue_report(log=self.stdout.write)
        if (opts["codeless"] or opts["demo"]) and not (
            opts["dataset"] or opts["speed"] or opts["blocking"]
        ):
            return  # only those reports were asked for
        run(
            dataset=opts["dataset"],
            also=opts["also"],
            transfer=opts["transfer"],
            blocking=opts["blocking"],
            k=opts["k"],
            save_model=opts["save_model"],
            speed=opts["speed"],
            cross_encoder={
                "epochs": opts["ce_epochs"],
                "max_seconds": 60 * opts["ce_minutes"],
                "seed": opts["seed"],
            }
            if opts["cross_encoder"]
            else None,  # fmt: skip
            progress=True,
            log=self.stdout.write,
        )
