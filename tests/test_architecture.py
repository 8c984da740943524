"""The layering the code promises (README, "Architecture"): imports flow one way, catalog ←
visualsearch ← dedupe, and no product module imports the lab. Read from the source, so a new
import in the wrong direction fails here before anyone has to notice it in review."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import ProductFactory, ProductImageFactory, SellerFactory

ROOT = Path(__file__).resolve().parents[1]
APPS = ("catalog", "visualsearch", "dedupe")
# What each app may not import: the apps above it.
ABOVE = {"catalog": ("visualsearch", "dedupe"), "visualsearch": ("dedupe",), "dedupe": ()}


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in the file, at any depth (functions included)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            # `from catalog import lab` names a package too
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def sources(app: str):
    for path in sorted((ROOT / app).rglob("*.py")):
        if "migrations" not in path.parts:
            yield path


def is_lab(module: str) -> bool:
    parts = module.split(".")
    return len(parts) >= 2 and parts[0] in APPS and parts[1] == "lab"


@pytest.mark.parametrize("app", APPS)
def test_an_app_imports_nothing_from_the_apps_above_it(app):
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sources(app)
        for line, module in imports_of(path)
        if module.split(".")[0] in ABOVE[app]
    ]
    assert wrong == []


@pytest.mark.parametrize("app", APPS)
def test_no_product_module_imports_the_lab(app):
    """The lab (benchmarks, evaluations, fits, the demo) is reached from its management commands
    and from itself, never from the product's modules."""
    wrong = []
    for path in sources(app):
        rel = path.relative_to(ROOT)
        if "lab" in rel.parts or rel.parts[1:3] == ("management", "commands"):
            continue
        wrong += [f"{rel}:{line} imports {m}" for line, m in imports_of(path) if is_lab(m)]
    assert wrong == []


def test_the_direction_check_sees_an_import_in_the_wrong_direction(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def f():\n    from dedupe.services import duplicates_scan\nfrom visualsearch import lab\n"
    )
    modules = [m for _, m in imports_of(sample)]
    assert "dedupe.services" in modules
    assert is_lab("visualsearch.lab") and not is_lab("visualsearch.labels")


@pytest.mark.django_db
def test_the_seller_dashboard_costs_the_same_queries_for_two_products_or_eight(client):
    """Photo status and duplicate notes come from the upper apps' template tags, each fetched
    for the whole page at once."""
    seller = SellerFactory()
    client.force_login(seller.user)

    def queries_with(count: int) -> int:
        while seller.products.count() < count:
            product = ProductFactory(seller=seller)
            ProductImageFactory(product=product)
            ProductImageFactory(product=product, position=1)
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/seller/").status_code == 200
        return len(captured)

    assert queries_with(2) == queries_with(8)


def test_starting_django_and_loading_the_pages_imports_no_model_library():
    """The heavy libraries load when a model is used, not when a process starts: a management
    command or a web process that never embeds never pays for torch."""
    code = (
        "import django, sys; django.setup(); "
        "import visualsearch.views, visualsearch.api, catalog.views, dedupe.views, dedupe.api; "
        "print(sorted(m for m in ('torch', 'timm', 'open_clip', 'sklearn', 'sentence_transformers')"
        " if m in sys.modules))"
    )
    env = os.environ | {"DJANGO_SETTINGS_MODULE": "visualsearch.settings"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
