"""The demo catalog of a fresh install: accounts, sellers, and a catalog of REAL product photos.

The photos are a subset of Kaggle's Fashion Product Images (Small) (Myntra, MIT), shipped in
``catalog/demo_data/fashion/`` with the set's licence and source, chosen by
``manage.py demo_subset`` (:mod:`visualsearch.lab.demo_subset`) from the set's **test split** only: the
shipped search weights were trained on the other 80%, so the demo shows what a newcomer's own
photos would get. Its ``styles.csv`` holds the chosen rows as they are.

What makes it a marketplace:

- three sellers; categories ``masterCategory > subCategory > articleType``, the titles of
  ``productDisplayName``, brands read off the titles, and the stand-in prices of
  :func:`catalog.importing.fashion_price` (the set has none), as ``import_catalog --format
  fashion`` would list them;
- the set's own **title groups**: rows that share a title (colour and design variants of one
  line, each its own product, NOT duplicates), listed by one seller; :func:`variant_pairs`;
- planted **re-listings**: for ``duplicates`` originals, another seller lists the same item with
  the real photo re-cropped by a few %, re-lit and recompressed (JPEG 60-85), a reworded title and
  a price within ±4 %; the copy's external id is ``dup-`` + the original's; :func:`planted_pairs`.

Deterministic: the plan comes from the shipped CSV and one ``random.Random(seed)`` and is built
completely before anything is written, so ``--force`` can skip the external ids that already
exist and fill in only what is missing, and tests can predict the planted pairs. The drawn
catalog of earlier versions (:mod:`catalog.lab.demo_drawn`, ``seed_demo --drawn``) stays for tests.

Every write goes through :mod:`catalog.services`, the same path as the pages, the API and the CSV
import, so the demo also exercises validation and the on-commit embedding jobs.
"""

from __future__ import annotations

import csv
import io
import itertools
import random
import re
import secrets
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from PIL import Image, ImageEnhance

from catalog import services
from catalog.importing import fashion_price
from catalog.lab import demo_drawn
from catalog.models import Category, ImageKind, Product, Seller

if TYPE_CHECKING:
    from catalog.lab.demo_drawn import Drawing

DEMO_DATA = Path(__file__).resolve().parents[1] / "demo_data" / "fashion"
DEFAULT_SEED = 42
DEFAULT_DUPLICATES = 8
ORIGINAL_PREFIX = "demo-"
# Planted near-duplicates are ``dup-`` + the original's external id, owned by *another* seller,
# so a moderator (and the dedupe tests) can tell a planted pair from the id alone.
DUPLICATE_PREFIX = "dup-"
SOURCES = ("photos", "drawn")
RELIST_GAP = 40

# (username, display name) of the demo sellers; the catalog is split between them.
SELLERS = [
    ("seller1", "Harbour Lane Outfitters"),
    ("seller2", "Kestrel & Co. Resale"),
    ("seller3", "Juniper Street Market"),
]

# Words of the set's titles that start the buyer-side part; what comes before is the brand
# ("United Colors of Benetton Women Solid Black Top").
GENDER_WORDS = ("Men", "Women", "Unisex", "Boys", "Girls", "Kids")

# How a second seller words the same item: (pattern, replacement), whole words, first match of
# each. Same meaning, other words.
REWORDINGS = [
    (r"T-?[Ss]hirts?", "Tee"), (r"Tee", "T-shirt"), (r"Sports Shoes", "Trainers"),
    (r"Casual Shoes", "Sneakers"), (r"Formal Shoes", "Dress Shoes"), (r"Watch", "Wristwatch"),
    (r"Handbags?", "Hand Bag"), (r"Backpacks?", "Rucksack"), (r"Sunglasses", "Shades"),
    (r"Trousers", "Pants"), (r"Jeans", "Denims"), (r"Flip Flops", "Slippers"),
    (r"Wallets?", "Billfold"), (r"Perfume", "Fragrance"), (r"Grey", "Gray"), (r"Navy Blue", "Navy"),
    (r"Kurta", "Kurta Tunic"), (r"Heels", "High Heels"), (r"Belts?", "Waist Belt"),
    (r"Socks", "Pair of Socks"), (r"Shirt", "Button-Down Shirt"), (r"Tops?", "Blouse"),
]  # fmt: skip


@dataclass(frozen=True)
class Relisting:
    """How a planted re-listing's photo differs from the original's: the share of each side cut
    off (left, top, right, bottom), then brightness and contrast factors, then JPEG quality."""

    crop: tuple[float, float, float, float]
    brightness: float
    contrast: float
    quality: int


@dataclass(frozen=True)
class DemoProduct:
    """One planned listing.

    A real one has ``photo`` (a path under :data:`DEMO_DATA`), its ``style_id`` and its
    ``article_type``; a planted re-listing also has ``relisting``; a drawn one has ``drawing``.
    """

    external_id: str
    seller: str
    category_path: str
    title: str
    description: str
    brand: str
    price: Decimal
    duplicate_of: str | None = None
    photo: str = ""
    style_id: int | None = None
    article_type: str = ""
    colour: str = ""
    relisting: Relisting | None = None
    drawing: Drawing | None = None


@dataclass
class SeedSummary:
    products: int = 0
    skipped: int = 0
    categories: int = 0
    sellers: int = 0
    images: int = 0
    # (original, duplicate) external ids of the near-duplicates planted by this run.
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    # Pairs of listings in the plan that share a title (variants, not duplicates).
    variants: int = 0
    accounts: list[tuple[str, str, str]] = field(default_factory=list)
    seconds: float = 0.0
    nothing_to_do: bool = False


# --------------------------------------------------------------------------------- the plan


def fashion_brand(title: str) -> str:
    """The words before the first gender word ("Pepe Jeans Men Casual Sunglasses" → "Pepe
    Jeans"), else the first word: the set has no brand column."""
    words = title.split()
    for index, word in enumerate(words[:5]):
        if word in GENDER_WORDS:
            return " ".join(words[:index]) or words[0]
    return words[0] if words else ""


def _description(row: dict) -> str:
    """ "Tshirts for men in black, for casual wear. Summer 2012 collection." from the labels."""
    text = row["articleType"]
    if row["gender"]:
        text += f" for {row['gender'].lower()}" if row["gender"] != "Unisex" else ", unisex,"
    if row["baseColour"]:
        text += f" in {row['baseColour'].lower()}"
    if row["usage"]:
        text += f", for {row['usage'].lower()} wear"
    season = " ".join(filter(None, [row["season"], row["year"]]))
    return f"{text}. {season} collection." if season else f"{text}."


def photo_rows() -> list[dict]:
    """The shipped subset's styles.csv rows, in their front-page order."""
    with open(DEMO_DATA / "styles.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _seller_of(title: str) -> str:
    """One seller per title, so a title group (variants of one line) has one shop."""
    return SELLERS[zlib.crc32(title.encode()) % len(SELLERS)][0]


def reword(title: str, brand: str, rng: random.Random) -> str:
    """The same item as another seller titles it: the brand in lower case, a synonym or two, the
    buyer word moved to the end: "Puma Men Grey Solid Round Neck T-Shirt" → "puma Gray Solid
    Round Neck Tee for Men"."""
    rest = title[len(brand) :] if brand and title.startswith(brand) else f" {title}"
    done: list[str] = []  # replacements are parked as \x00<n>\x00 so none is reworded twice
    for pattern, replacement in REWORDINGS:
        whole_word = rf"(?<![\w-]){pattern}(?![\w-])"
        if len(done) < 2 and re.search(whole_word, rest):
            rest = re.sub(whole_word, f"\x00{len(done)}\x00", rest, count=1)
            done.append(replacement)
    for index, replacement in enumerate(done):
        rest = rest.replace(f"\x00{index}\x00", replacement)
    words = rest.split()
    if len(words) > 2 and words[0] in GENDER_WORDS and rng.random() < 0.8:
        tail = ["(unisex)"] if words[0] == "Unisex" else ["for", words[0]]
        words = [*words[1:], *tail]
    reworded = " ".join([brand.lower(), *words]) if brand else " ".join(words)
    return reworded if reworded != title else f"{reworded} (as new)"


def _relisting(rng: random.Random) -> Relisting:
    crop = tuple(round(rng.uniform(0.02, 0.06), 3) for _ in range(4))
    # Re-lit visibly but slightly: at least 3 % brighter or darker.
    brightness = round(rng.choice([-1, 1]) * rng.uniform(0.03, 0.08) + 1, 3)
    return Relisting(
        crop=crop, brightness=brightness, contrast=round(rng.uniform(0.94, 1.06), 3),
        quality=rng.randint(60, 85),
    )  # fmt: skip


def _planted_originals(
    originals: list[DemoProduct], count: int, rng: random.Random
) -> list[DemoProduct]:
    """``count`` originals to re-list: one each of the ``2 × count`` most common articleTypes
    (where near-duplicates are hard to tell from lookalikes), chosen at random, outside the title
    groups (a re-listed variant would make a pair that is both)."""
    titles = Counter(item.title for item in originals)
    kinds = Counter(item.article_type for item in originals)
    common = sorted(kinds, key=lambda kind: (-kinds[kind], kind))[: 2 * count]
    pool = [item for item in originals if titles[item.title] == 1]
    rng.shuffle(pool)
    chosen, used = [], set()
    for kind in rng.sample(common, len(common)):
        item = next((i for i in pool if i.article_type == kind), None)
        if item is not None and len(chosen) < count:
            chosen.append(item)
            used.add(item.external_id)
    for item in pool:  # fewer articleTypes than asked for: any others
        if len(chosen) < count and item.external_id not in used:
            chosen.append(item)
            used.add(item.external_id)
    order = {item.external_id: index for index, item in enumerate(originals)}
    return sorted(chosen, key=lambda item: order[item.external_id])


def demo_plan(
    *, seed: int = DEFAULT_SEED, products: int | None = None,
    duplicates: int = DEFAULT_DUPLICATES, source: str = "photos",
) -> list[DemoProduct]:  # fmt: skip
    """The full, deterministic list of listings in the order they are written: the originals,
    each planted re-listing some listings after its original.

    ``source="photos"`` (the default): the first ``products`` rows of the shipped subset (all of
    them when None). ``source="drawn"``: ``products`` drawn listings (300 when None).
    """
    if source == "drawn":
        return demo_drawn.drawn_plan(
            seed=seed, products=demo_drawn.DEFAULT_PRODUCTS if products is None else products,
            duplicates=duplicates,
        )  # fmt: skip
    if source != "photos":
        raise ValueError(f"unknown demo source {source!r}; choose from {', '.join(SOURCES)}")
    rows = photo_rows()
    if products is not None:
        if not 1 <= products <= len(rows):
            raise ValueError(f"the photo demo has 1 to {len(rows)} products, not {products}")
        rows = rows[:products]
    originals = []
    for row in rows:
        title = row["productDisplayName"].strip()
        parts = (row["masterCategory"], row["subCategory"], row["articleType"])
        originals.append(
            DemoProduct(
                external_id=f"{ORIGINAL_PREFIX}{row['id']}",
                seller=_seller_of(title),
                category_path=" > ".join(p.strip() for p in parts if p.strip()),
                title=title,
                description=_description(row),
                brand=fashion_brand(title),
                price=fashion_price(row["id"], row["masterCategory"]),
                photo=row["image"],
                style_id=int(row["id"]),
                article_type=row["articleType"],
                colour=row["baseColour"],
            )
        )
    rng = random.Random(seed)
    planted = []
    # Originals near the end would put their copies at the top of "latest products".
    big = len(originals) > 4 * RELIST_GAP
    early = originals[: len(originals) - 2 * RELIST_GAP] if big else originals
    for original in _planted_originals(early, duplicates, rng):
        # ±4 % before rounding to cents keeps the result safely within ±5 %.
        price = (original.price * Decimal(str(round(rng.uniform(0.96, 1.04), 4)))).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )
        others = [name for name, _ in SELLERS if name != original.seller]
        planted.append(
            DemoProduct(
                external_id=f"{DUPLICATE_PREFIX}{original.external_id}",
                seller=rng.choice(others),
                category_path=original.category_path,
                title=reword(original.title, original.brand, rng),
                description=f"Barely used, as new. {original.description}",
                brand=original.brand,
                price=price,
                duplicate_of=original.external_id,
                photo=original.photo,
                style_id=original.style_id,
                article_type=original.article_type,
                colour=original.colour,
                relisting=_relisting(rng),
            )
        )
    # Each copy is listed RELIST_GAP listings after its original (at the end of a shorter
    # catalog): later than the original, as a re-listing is, but not all eight at the top of
    # "latest products".
    listings = list(originals)
    for copy in sorted(planted, key=lambda c: -_position(originals, c.duplicate_of)):
        at = min(_position(originals, copy.duplicate_of) + 1 + RELIST_GAP, len(originals))
        listings.insert(at, copy)
    return listings


def _position(originals: list[DemoProduct], external_id: str | None) -> int:
    return next(i for i, item in enumerate(originals) if item.external_id == external_id)


def planted_pairs(plan: list[DemoProduct]) -> list[tuple[str, str]]:
    """(original external id, duplicate external id) for every planted near-duplicate."""
    return [(p.duplicate_of, p.external_id) for p in plan if p.duplicate_of]


def variant_pairs(plan: list[DemoProduct]) -> list[tuple[str, str]]:
    """Every pair of original listings that share a title in the source data (the set's colour
    and design variants of one line): distinct products, NOT duplicates. Sorted external ids."""
    by_title: dict[str, list[str]] = defaultdict(list)
    for item in plan:
        if not item.duplicate_of:
            by_title[item.title].append(item.external_id)
    return sorted(
        pair for ids in by_title.values() for pair in itertools.combinations(sorted(ids), 2)
    )


# -------------------------------------------------------------------------------- the photos


def relisted_photo(content: bytes, relisting: Relisting) -> bytes:
    """Another seller's copy of a photo: cropped by a few % per side and scaled back to the
    original size, re-lit, recompressed."""
    image = Image.open(io.BytesIO(content)).convert("RGB")
    width, height = image.size
    left, top, right, bottom = relisting.crop
    box = (round(width * left), round(height * top),
           width - round(width * right), height - round(height * bottom))  # fmt: skip
    image = image.crop(box).resize((width, height), Image.Resampling.LANCZOS)
    image = ImageEnhance.Brightness(image).enhance(relisting.brightness)
    image = ImageEnhance.Contrast(image).enhance(relisting.contrast)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=relisting.quality)
    return buffer.getvalue()


def render_images(item: DemoProduct) -> list[tuple[bytes, str]]:
    """JPEG bytes and image kind of each photo of ``item``: the shipped photo as it is, or its
    re-listed copy, or the drawings of a drawn listing."""
    if item.drawing is not None:
        return demo_drawn.drawn_images(item)
    content = (DEMO_DATA / item.photo).read_bytes()
    if item.relisting is not None:
        content = relisted_photo(content, item.relisting)
    return [(content, ImageKind.CATALOG)]


# ---------------------------------------------------------------------------------- writing


ACCOUNTS = [
    # username, role shown in the table, groups, is_staff, is_superuser
    ("shopper", "shopper", (), False, False),
    ("seller1", "seller", ("sellers",), False, False),
    ("seller2", "seller", ("sellers",), False, False),
    ("seller3", "seller", ("sellers",), False, False),
    ("moderator", "moderator", ("moderators",), False, False),
    ("admin", "admin (superuser)", (), True, True),
]


def accounts_ensure() -> list[tuple[str, str, str]]:
    """Create the demo users that are missing; returns (username, role, password) for new ones.

    Existing users are left exactly as they are, password included: someone may already have
    logged in with it, and a seed re-run must not lock them out or leak a new secret.
    """
    User = get_user_model()
    created = []
    for username, role, groups, is_staff, is_superuser in ACCOUNTS:
        if User.objects.filter(username=username).exists():
            continue
        password = secrets.token_urlsafe(9)
        email = f"{username}@demo.invalid"
        if is_superuser:
            user = User.objects.create_superuser(username=username, email=email, password=password)
        else:
            user = User.objects.create_user(username=username, email=email, password=password)
            if is_staff:
                user.is_staff = True
                user.save(update_fields=["is_staff"])
        for name in groups:
            # The groups come from a data migration; get_or_create guards a hand-pruned DB.
            user.groups.add(Group.objects.get_or_create(name=name)[0])
        created.append((username, role, password))
    return created


def sellers_ensure() -> dict[str, Seller]:
    """The demo sellers' profiles, linked to their users."""
    User = get_user_model()
    sellers = {}
    for username, display_name in SELLERS:
        user = User.objects.get(username=username)
        seller = services.seller_get_or_create(slug=username, display_name=display_name, user=user)
        if seller.user_id is None:
            # A seller row an import created before anyone claimed it: no service claims sellers,
            # and the demo login must own its shop, so link it here.
            Seller.objects.filter(pk=seller.pk, user__isnull=True).update(user=user)
            seller.refresh_from_db()
        sellers[username] = seller
    return sellers


def seed(
    *,
    seed: int = DEFAULT_SEED,
    products: int | None = None,
    duplicates: int = DEFAULT_DUPLICATES,
    source: str = "photos",
    force: bool = False,
    on_progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> SeedSummary:
    """Seed the demo. Does nothing when the catalog has products, unless ``force``.

    With ``force``, listings whose (seller, external id) already exists are skipped, so a partly
    seeded database is completed without touching what is there.
    """
    started = time.monotonic()
    summary = SeedSummary()
    if Product.objects.exists() and not force:
        summary.nothing_to_do = True
        summary.seconds = time.monotonic() - started
        return summary
    plan = demo_plan(seed=seed, products=products, duplicates=duplicates, source=source)
    with transaction.atomic():
        summary.accounts = accounts_ensure()
        sellers = sellers_ensure()
    existing = set(
        Product.objects.filter(seller__in=sellers.values()).values_list(
            "seller__slug", "external_id"
        )
    )
    if on_total:
        on_total(len(plan))
    categories: dict[str, Category] = {}
    for item in plan:
        if (item.seller, item.external_id) in existing:
            summary.skipped += 1
        else:
            # Reading, drawing and validating happen outside the transaction product_create opens.
            photos = render_images(item)
            checked = [services.image_validate(content) for content, _ in photos]
            category = categories.get(item.category_path)
            if category is None:
                category = services.category_get_or_create_path(path=item.category_path)
                categories[item.category_path] = category
            services.product_create(
                seller=sellers[item.seller],
                external_id=item.external_id,
                data=services.ProductData(
                    title=item.title, price=item.price, currency="EUR",
                    description=item.description, brand=item.brand, category=category,
                ),
                images=checked,
                kinds=[kind for _, kind in photos],
            )  # fmt: skip
            summary.products += 1
            summary.images += len(checked)
            if item.duplicate_of:
                summary.duplicates.append((item.duplicate_of, item.external_id))
        if on_progress:
            on_progress(1)
    summary.variants = len(variant_pairs(plan))
    summary.categories = len({item.category_path for item in plan})
    summary.sellers = len(sellers)
    summary.seconds = time.monotonic() - started
    return summary
