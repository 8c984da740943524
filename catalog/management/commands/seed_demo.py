"""``manage.py seed_demo``: a thin wrapper over :func:`catalog.lab.demo.seed`.

The logic lives in :mod:`catalog.lab.demo` so tests and other code can seed without parsing command
output; this file only turns options into arguments and the summary into text.
"""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from catalog.lab import demo


class Command(BaseCommand):
    help = (
        "Create demo accounts and a demo catalog of real product photos (the fashion set's test "
        "split, shipped in catalog/demo_data/fashion/), their colour variants and a few planted "
        "re-listings. Does nothing if the catalog already has products, unless --force."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--products", type=int, default=None,
            help="original listings to create (default: every shipped photo; 300 with --drawn)",
        )  # fmt: skip
        parser.add_argument(
            "--duplicates", type=int, default=demo.DEFAULT_DUPLICATES,
            help=f"near-duplicate listings to plant (default {demo.DEFAULT_DUPLICATES})",
        )  # fmt: skip
        parser.add_argument(
            "--seed", type=int, default=demo.DEFAULT_SEED,
            help=f"random seed; the same seed gives the same catalog (default {demo.DEFAULT_SEED})",
        )  # fmt: skip
        parser.add_argument(
            "--drawn", action="store_true",
            help="Pillow-drawn products instead of the real photos (fast catalogs of any size)",
        )  # fmt: skip
        parser.add_argument(
            "--force", action="store_true",
            help="seed even if products exist; listings whose external id exists are skipped",
        )  # fmt: skip

    def handle(self, *args, products, duplicates, seed, drawn, force, **options):
        source = "drawn" if drawn else "photos"
        if products is not None and products < 1:
            raise CommandError("--products must be at least 1")
        if not drawn and products is not None and products > len(demo.photo_rows()):
            raise CommandError(
                f"--products: the photo demo has {len(demo.photo_rows())} photos; "
                "use --drawn for a larger catalog"
            )
        if duplicates < 0:
            raise CommandError("--duplicates cannot be negative")
        bar = tqdm(unit="product", desc="seed_demo", disable=None)

        def on_total(total: int) -> None:
            bar.total = total
            bar.refresh()

        try:
            summary = demo.seed(
                seed=seed, products=products, duplicates=duplicates, source=source, force=force,
                on_progress=bar.update, on_total=on_total,
            )  # fmt: skip
        finally:
            bar.close()
        if summary.nothing_to_do:
            self.stdout.write("catalog not empty; nothing to do")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"{summary.products} products created ({summary.skipped} already there), "
                f"{summary.images} images, {summary.categories} categories, "
                f"{summary.sellers} sellers, {len(summary.duplicates)} duplicates planted, "
                f"{summary.seconds:.1f} s"
            )
        )
        if summary.duplicates:
            pairs = ", ".join(f"{a}~{b}" for a, b in summary.duplicates)
            self.stdout.write(f"planted duplicate pairs: {pairs}")
        if summary.variants:
            self.stdout.write(
                f"{summary.variants} pairs of listings share a title (colour variants, "
                "not duplicates: catalog.lab.demo.variant_pairs)"
            )
        if summary.accounts:
            self.stdout.write("\nNew demo accounts (passwords are shown only this once):")
            width = max(len(name) for name, _, _ in summary.accounts)
            role_width = max(len(role) for _, role, _ in summary.accounts)
            self.stdout.write(f"  {'user':<{width}}  {'role':<{role_width}}  password")
            for name, role, password in summary.accounts:
                self.stdout.write(f"  {name:<{width}}  {role:<{role_width}}  {password}")
