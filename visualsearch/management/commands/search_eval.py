from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from visualsearch.lab.search_eval import NothingToEvaluate, search_eval
from visualsearch.spaces import space_active


class Command(BaseCommand):
    help = (
        "Recall@k of the HNSW search path against exact search with the same filters on the "
        "active space, and p50/p95 latency of each. The last line is "
        "'recall@10=R p50_ms=A p95_ms=B' (for the HNSW path)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--queries", type=int, default=100)
        parser.add_argument(
            "--selectivity", type=float, default=None,
            help="share of active products a random price-range filter keeps (0 < P ≤ 1)",
        )  # fmt: skip
        parser.add_argument("--k", type=int, default=10)
        parser.add_argument(
            "--ef-search", type=int, default=None, help="hnsw.ef_search (default HNSW_EF_SEARCH)"
        )
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, queries, selectivity, k, ef_search, seed, **options):
        if queries < 1 or k < 1:
            raise CommandError("--queries and --k must be at least 1")
        if selectivity is not None and not 0 < selectivity <= 1:
            raise CommandError("--selectivity must be in (0, 1]")
        if ef_search is not None and ef_search < 1:
            raise CommandError("--ef-search must be at least 1")
        space = space_active()
        if space is None:
            raise CommandError("no active embedding space (see activate_space)")
        bar = tqdm(total=queries, unit="query", desc="search_eval", disable=None)
        try:
            result = search_eval(space=space, queries=queries, k=k, selectivity=selectivity,
                                 ef_search=ef_search, seed=seed, on_progress=bar.update)  # fmt: skip
        except NothingToEvaluate as exc:
            raise CommandError(str(exc)) from None
        finally:
            bar.close()
        self.stdout.write(result.table())
