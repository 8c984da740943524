"""``manage.py search_bench``: synthetic-vector benchmark of pgvector HNSW vs faiss and numpy.

Loads into a dedicated ``bench_vectors`` table (dropped afterwards); run it in its own database,
e.g. ``DATABASE_NAME=mk_bench``. The logic lives in :mod:`visualsearch.lab.bench`.
"""

import shlex
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from visualsearch.lab import bench
from visualsearch.lab.evaluation import DEFAULT_DATA


class Command(BaseCommand):
    help = (
        "Benchmark vector search on N synthetic clustered vectors: HNSW build, recall@10 and "
        "latency at several ef_search values against faiss HNSW and exact numpy, filtered "
        "queries (10%% and 1%% selectivity by default), and upload-to-findable freshness. Writes a section "
        "into docs/benchmarks.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("--n", type=int, default=100_000, help="vectors to load")
        parser.add_argument("--dim", type=int, default=512)
        parser.add_argument("--queries", type=int, default=200)
        parser.add_argument("--clusters", type=int, default=1000)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--ef-search", default="40,100,200,400", help="comma-separated hnsw.ef_search values"
        )
        parser.add_argument(
            "--filter-ef", default="",
            help="ef_search for the filtered queries (default HNSW_EF_SEARCH); more values, "
            "comma-separated, add rows measured at each",
        )  # fmt: skip
        parser.add_argument(
            "--filters", default="10,1",
            help="comma-separated filter selectivities in whole percent (1..100): each filter "
            "keeps that many of the 100 categories",
        )  # fmt: skip
        parser.add_argument(
            "--freshness", type=int, default=20,
            help="uploads to time for freshness (0 skips it; needs an active space)",
        )  # fmt: skip
        parser.add_argument(
            "--out", type=Path, default=Path(settings.BASE_DIR) / "docs" / "benchmarks.md"
        )
        parser.add_argument("--note", default="", help="a sentence added to the report")
        parser.add_argument(
            "--noise", choices=bench.NOISES, default="spectrum",
            help="within-cluster noise: a power-law variance spectrum like real embeddings "
            "(default) or isotropic (a stress case)",
        )  # fmt: skip
        parser.add_argument(
            "--alpha", type=float, default=bench.SPECTRUM_ALPHA,
            help="spectrum noise: variance of the i-th direction ∝ i^-alpha "
            f"(default {bench.SPECTRUM_ALPHA}, measured with --measure-alpha)",
        )  # fmt: skip
        parser.add_argument(
            "--tune-queries", type=int, default=200,
            help="extra queries (another seed) on which ef_search is chosen for the targets",
        )  # fmt: skip
        parser.add_argument(
            "--measure-alpha", action="store_true",
            help="only measure the PCA spectrum decay of real photo embeddings and print it",
        )  # fmt: skip
        parser.add_argument("--photos", type=int, default=2000, help="photos for --measure-alpha")
        parser.add_argument(
            "--data", type=Path, default=DEFAULT_DATA, help="photo folder for --measure-alpha"
        )

    def handle(self, *args, **o):
        if o["measure_alpha"]:
            if not (o["data"] / "styles.csv").is_file():
                raise CommandError(f"no styles.csv in {o['data']}")
            bench.spectrum_alpha_measure(
                data_dir=o["data"], photos=o["photos"], log=self.stdout.write
            )
            return
        if o["n"] < 100 or o["dim"] < 2 or o["queries"] < 1:
            raise CommandError("--n must be at least 100, --dim at least 2, --queries at least 1")
        try:
            ef_values = tuple(int(v) for v in o["ef_search"].split(",") if v.strip())
        except ValueError:
            raise CommandError("--ef-search takes integers separated by commas") from None
        if not ef_values or min(ef_values) < 1:
            raise CommandError("--ef-search needs at least one value ≥ 1")
        try:
            filter_efs = tuple(int(v) for v in o["filter_ef"].split(",") if v.strip())
        except ValueError:
            raise CommandError("--filter-ef takes integers separated by commas") from None
        if filter_efs and min(filter_efs) < 1:
            raise CommandError("--filter-ef values must be ≥ 1")
        try:
            percents = tuple(int(v) for v in o["filters"].split(",") if v.strip())
        except ValueError:
            raise CommandError("--filters takes whole percentages separated by commas") from None
        if not percents or not all(1 <= p <= bench.CATEGORIES for p in percents):
            raise CommandError(f"--filters values must be between 1 and {bench.CATEGORIES}")
        report = bench.bench_run(
            n=o["n"], dim=o["dim"], queries=o["queries"], clusters=o["clusters"], seed=o["seed"],
            ef_values=ef_values, filter_ef=filter_efs[0] if filter_efs else None,
            filter_ef_more=filter_efs[1:], filter_percents=percents,
            freshness_uploads=o["freshness"],
            noise=o["noise"], alpha=o["alpha"], tune_queries=o["tune_queries"],
            log=self.stdout.write, progress=o["verbosity"] > 0,
        )  # fmt: skip
        command = "python manage.py search_bench " + " ".join(shlex.quote(a) for a in sys.argv[2:])
        section = bench.report_markdown(
            report, command=command, machine=bench.machine_description(), note=o["note"]
        )
        bench.report_write(path=o["out"], n=o["n"], section=section)
        self.stdout.write(section)
        self.stdout.write(self.style.SUCCESS(f"wrote the n={o['n']} section to {o['out']}"))
