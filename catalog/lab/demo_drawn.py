"""The drawn demo catalog (``seed_demo --drawn``): Pillow-drawn garments, shoes and bags.

The default demo shows real photos (:mod:`catalog.lab.demo`). This generator stays for tests that
need a catalog of any size in a second, offline: Pillow silhouettes (a T-shirt polygon, a sneaker
side view, a bag with a handle) filled with a coloured pattern give an embedder something real to
separate, at 224x224, the input size of the usual CLIP backbones, so nothing is resized away.

The whole plan (titles, prices, colours, which listings get duplicated) comes from one
``random.Random(seed)``, built completely before anything is written, so two runs with the same
seed describe the same catalog.
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from PIL import Image, ImageDraw, ImageFilter

from catalog.lab import demo
from catalog.models import ImageKind

SIZE = 224
DEFAULT_PRODUCTS = 300

BRANDS = [
    "Northwind", "Aurelia", "Fjordline", "Calder & Moss", "Peregrine", "Lumen Street",
    "Oakhaven", "Solstice", "Vantage Row", "Tidewell",
]  # fmt: skip

# Name in the title -> RGB. Names are the ones a shopper types ("navy", "beige"), so text search
# and zero-shot colour scoring can be checked against what is drawn.
COLOURS = {
    "Red": (200, 30, 40),
    "Blue": (40, 90, 200),
    "Navy": (20, 32, 80),
    "Black": (25, 25, 28),
    "White": (248, 248, 246),
    "Green": (40, 140, 60),
    "Yellow": (240, 200, 40),
    "Pink": (238, 130, 170),
    "Grey": (128, 128, 132),
    "Brown": (110, 70, 40),
    "Beige": (215, 195, 160),
    "Orange": (240, 120, 30),
    "Purple": (110, 50, 150),
}
PATTERNS = ["Solid", "Striped", "Checked", "Dotted"]
PATTERN_WORD = {"Solid": "", "Striped": "Striped", "Checked": "Checked", "Dotted": "Polka Dot"}


@dataclass(frozen=True)
class CategorySpec:
    path: str
    shape: str
    base_price: Decimal
    nouns: tuple[str, ...]
    materials: tuple[str, ...]
    genders: tuple[str, ...] = ("Men", "Women")
    patterns: tuple[str, ...] = tuple(PATTERNS)


CATEGORIES = [
    CategorySpec("Apparel > Topwear > Tshirts", "tshirt", Decimal("19.00"),
                 ("T-shirt", "Crew Neck T-shirt", "V-Neck T-shirt"),
                 ("Cotton", "Organic Cotton", "Jersey")),
    CategorySpec("Apparel > Topwear > Shirts", "shirt", Decimal("39.00"),
                 ("Shirt", "Oxford Shirt", "Casual Shirt"), ("Cotton", "Linen", "Poplin")),
    CategorySpec("Apparel > Bottomwear > Jeans", "jeans", Decimal("59.00"),
                 ("Slim Fit Jeans", "Straight Jeans", "Relaxed Jeans"), ("Denim", "Stretch Denim"),
                 patterns=("Solid", "Solid", "Striped")),
    CategorySpec("Apparel > Bottomwear > Shorts", "shorts", Decimal("29.00"),
                 ("Shorts", "Chino Shorts", "Bermuda Shorts"), ("Cotton", "Twill", "Linen")),
    CategorySpec("Apparel > Dress > Dresses", "dress", Decimal("49.00"),
                 ("Dress", "Midi Dress", "Summer Dress"), ("Viscose", "Cotton", "Chiffon"),
                 genders=("Women",)),
    CategorySpec("Footwear > Shoes > Sneakers", "sneaker", Decimal("69.00"),
                 ("Sneakers", "Low-Top Sneakers", "Running Sneakers"),
                 ("Canvas", "Leather", "Mesh"), genders=("Men", "Women", "Unisex")),
    CategorySpec("Footwear > Shoes > Boots", "boot", Decimal("99.00"),
                 ("Boots", "Ankle Boots", "Chelsea Boots"), ("Leather", "Suede"),
                 patterns=("Solid",)),
    CategorySpec("Accessories > Bags > Handbags", "handbag", Decimal("79.00"),
                 ("Handbag", "Tote Handbag", "Shoulder Handbag"),
                 ("Leather", "Faux Leather", "Canvas"), genders=("Women",)),
    CategorySpec("Accessories > Bags > Backpacks", "backpack", Decimal("45.00"),
                 ("Backpack", "Laptop Backpack", "Daypack Backpack"),
                 ("Nylon", "Canvas", "Recycled Polyester"), genders=("Unisex",)),
    CategorySpec("Accessories > Headwear > Caps", "cap", Decimal("17.00"),
                 ("Cap", "Baseball Cap", "Snapback Cap"), ("Cotton", "Twill", "Wool Blend"),
                 genders=("Men", "Women", "Unisex")),
]  # fmt: skip

# Rewording for the planted duplicates: the same product as another seller would list it. Keys
# are matched as whole words in the original title.
SYNONYMS = {
    "T-shirt": "Tee", "Shirt": "Button-Down", "Jeans": "Five-Pocket Pants", "Shorts": "Short Pants",
    "Dress": "Frock", "Sneakers": "Trainers", "Boots": "Booties", "Handbag": "Purse",
    "Backpack": "Rucksack", "Cap": "Hat", "Striped": "Stripe", "Checked": "Plaid",
    "Polka Dot": "Dotted", "Women": "Ladies", "Men": "Mens", "Grey": "Gray",
}  # fmt: skip

FITS = ["a regular fit", "a relaxed fit", "a slim fit", "a classic cut", "an easy shape"]
OCCASIONS = ["everyday wear", "weekends", "the office", "travel", "evenings out", "the commute"]
CARE = ["Machine wash at 30°C.", "Wipe clean with a damp cloth.", "Hand wash cold, dry flat.",
        "Do not tumble dry."]  # fmt: skip


@dataclass(frozen=True)
class Drawing:
    """What to draw for one listing. ``image_seed`` drives the drawing, independent of the plan."""

    category: CategorySpec
    colour: str
    pattern: str
    image_seed: int
    lifestyle: bool


# --------------------------------------------------------------------------------- the plan


def _price(rng: random.Random, base: Decimal) -> Decimal:
    """Base price × 0.8–1.5, ending in .99 or .95 or .49 like real price tags."""
    raw = float(base) * rng.uniform(0.8, 1.5)
    return Decimal(math.floor(raw)) + Decimal(rng.choice(["0.99", "0.95", "0.49"]))


def _title(brand: str, gender: str, colour: str, pattern: str, material: str, noun: str) -> str:
    words = [brand, gender, colour, PATTERN_WORD[pattern], material, noun]
    return " ".join(w for w in words if w)


def _description(rng: random.Random, spec: CategorySpec, colour: str, pattern: str,
                 material: str, noun: str) -> str:  # fmt: skip
    look = f"{pattern.lower()} {colour.lower()}" if pattern != "Solid" else colour.lower()
    return (
        f"A {look} {noun.lower()} in {material.lower()} with {rng.choice(FITS)}, made for "
        f"{rng.choice(OCCASIONS)}. {rng.choice(CARE)}"
    )


def _reword(title: str, brand: str, rng: random.Random) -> str:
    """Synonyms plus a different word order, as another seller would write the same listing:
    'Aurelia Women Red Linen Shirt' -> 'Aurelia Red Linen Button-Down - Ladies'."""
    words = title[len(brand) :].split()
    rest = f" {' '.join(words)} "
    for word, synonym in SYNONYMS.items():
        if f" {word} " in rest and rng.random() < 0.8:
            rest = rest.replace(f" {word} ", f" {synonym} ")
    words = rest.split()
    if len(words) > 2 and rng.random() < 0.7:
        words = [*words[1:], "-", words[0]]  # the gender word moves to the end
    return " ".join([brand, *words])


def drawn_plan(*, seed: int, products: int, duplicates: int) -> list[demo.DemoProduct]:
    """The full, deterministic list of drawn listings: ``products`` originals, then duplicates.

    Categories go round-robin so that even a small catalog covers every leaf; originals alternate
    between the first two sellers; each duplicate belongs to the one who does not own the original.
    """
    rng = random.Random(seed)
    first, second = demo.SELLERS[0][0], demo.SELLERS[1][0]
    originals = []
    for index in range(products):
        spec = CATEGORIES[index % len(CATEGORIES)]
        brand = rng.choice(BRANDS)
        gender = rng.choice(spec.genders)
        colour = rng.choice(list(COLOURS))
        pattern = rng.choice(spec.patterns)
        material = rng.choice(spec.materials)
        noun = rng.choice(spec.nouns)
        originals.append(
            demo.DemoProduct(
                external_id=f"{demo.ORIGINAL_PREFIX}{index + 1:04d}",
                seller=(first, second)[index % 2],
                category_path=spec.path,
                title=_title(brand, gender, colour, pattern, material, noun),
                description=_description(rng, spec, colour, pattern, material, noun),
                brand=brand,
                price=_price(rng, spec.base_price),
                drawing=Drawing(
                    category=spec,
                    colour=colour,
                    pattern=pattern,
                    image_seed=rng.getrandbits(32),
                    lifestyle=rng.random() < 0.5,
                ),
            )  # fmt: skip
        )
    planted = []
    for original in rng.sample(originals, min(duplicates, len(originals))):
        # ±4 % before rounding to cents keeps the result safely within ±5 %.
        price = (original.price * Decimal(str(round(rng.uniform(0.96, 1.04), 4)))).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )
        planted.append(
            demo.DemoProduct(
                external_id=f"{demo.DUPLICATE_PREFIX}{original.external_id}",
                seller=second if original.seller == first else first,
                category_path=original.category_path,
                title=_reword(original.title, original.brand, rng),
                description=f"Barely used, as new. {original.description}",
                brand=original.brand,
                price=price,
                drawing=replace(original.drawing, lifestyle=False),
                duplicate_of=original.external_id,
            )
        )
    return originals + planted


# ------------------------------------------------------------------------------- the drawing


def _shade(rgb: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    """Darker (<1) or lighter (>1) version of a colour, for stripes, outlines and soles."""
    if factor < 1:
        return tuple(int(c * factor) for c in rgb)
    return tuple(int(c + (255 - c) * (factor - 1)) for c in rgb)


def _contrast(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """A second pattern colour that is visible on both dark and light garments."""
    return _shade(rgb, 0.55) if sum(rgb) > 420 else _shade(rgb, 1.6)


def _fill(colour: tuple[int, int, int], pattern: str, rng: random.Random) -> Image.Image:
    tile = Image.new("RGB", (SIZE, SIZE), colour)
    draw = ImageDraw.Draw(tile)
    other = _contrast(colour)
    step = rng.choice([12, 16, 20])
    if pattern == "Striped":
        width = step // 2
        horizontal = rng.random() < 0.7
        for pos in range(0, SIZE, step):
            box = (0, pos, SIZE, pos + width) if horizontal else (pos, 0, pos + width, SIZE)
            draw.rectangle(box, fill=other)
    elif pattern == "Checked":
        for pos in range(0, SIZE, step):
            draw.rectangle((0, pos, SIZE, pos + step // 3), fill=other)
            draw.rectangle((pos, 0, pos + step // 3, SIZE), fill=other)
    elif pattern == "Dotted":
        radius = step // 5 + 1
        for y in range(0, SIZE, step):
            for x in range((y // step % 2) * step // 2, SIZE, step):
                draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=other)
    return tile


def _shape_tshirt(mask, detail, colour):
    body = [(62, 40), (92, 30), (112, 46), (132, 30), (162, 40), (202, 80), (178, 104),
            (160, 90), (160, 198), (64, 198), (64, 90), (46, 104), (22, 80)]  # fmt: skip
    mask.polygon(body, fill=255)
    detail.arc((92, 14, 132, 48), 20, 160, fill=_shade(colour, 0.6), width=3)
    return body


def _shape_shirt(mask, detail, colour):
    body = [(64, 36), (96, 28), (112, 44), (128, 28), (160, 36), (198, 150), (178, 160),
            (160, 98), (160, 202), (64, 202), (64, 98), (46, 160), (26, 150)]  # fmt: skip
    mask.polygon(body, fill=255)
    collar = _shade(colour, 0.7) if sum(colour) > 420 else _shade(colour, 1.3)
    detail.polygon([(96, 28), (112, 44), (100, 58)], fill=collar)
    detail.polygon([(128, 28), (112, 44), (124, 58)], fill=collar)
    for y in range(64, 196, 22):
        detail.ellipse((109, y, 115, y + 6), fill=_contrast(colour))
    return body


def _shape_jeans(mask, detail, colour):
    body = [(70, 22), (154, 22), (166, 206), (124, 206), (112, 92), (100, 206), (58, 206)]
    mask.polygon(body, fill=255)
    detail.line([(70, 34), (154, 34)], fill=_shade(colour, 0.6), width=3)
    detail.line([(112, 34), (112, 80)], fill=_shade(colour, 0.6), width=2)
    return body


def _shape_shorts(mask, detail, colour):
    body = [(60, 50), (164, 50), (178, 170), (122, 176), (112, 112), (102, 176), (46, 170)]
    mask.polygon(body, fill=255)
    detail.line([(60, 62), (164, 62)], fill=_shade(colour, 0.6), width=3)
    return body


def _shape_dress(mask, detail, colour):
    body = [(94, 34), (130, 34), (136, 74), (124, 96), (180, 206), (44, 206), (100, 96), (88, 74)]
    mask.polygon(body, fill=255)
    detail.line([(96, 36), (90, 14)], fill=_shade(colour, 0.7), width=4)
    detail.line([(128, 36), (134, 14)], fill=_shade(colour, 0.7), width=4)
    detail.line([(100, 96), (124, 96)], fill=_contrast(colour), width=4)
    return body


def _shape_sneaker(mask, detail, colour):
    body = [(26, 150), (36, 112), (78, 100), (108, 78), (142, 82), (152, 108), (194, 126),
            (202, 160), (26, 160)]  # fmt: skip
    mask.polygon(body, fill=255)
    mask.rectangle((22, 158, 204, 178), fill=255)
    detail.rectangle((22, 158, 204, 178), fill=(245, 245, 240))
    detail.line([(22, 178), (204, 178)], fill=(150, 150, 150), width=3)
    for i in range(4):
        detail.line([(112 + i * 9, 90 + i * 4), (124 + i * 9, 98 + i * 4)], fill="white", width=3)
    return body


def _shape_boot(mask, detail, colour):
    body = [(70, 34), (132, 34), (134, 128), (186, 142), (198, 176), (62, 176)]
    mask.polygon(body, fill=255)
    mask.rectangle((58, 174, 202, 190), fill=255)
    detail.rectangle((58, 174, 202, 190), fill=_shade(colour, 0.4))
    detail.line([(70, 44), (132, 44)], fill=_shade(colour, 0.6), width=3)
    return body


def _shape_handbag(mask, detail, colour):
    body = [(50, 92), (174, 92), (192, 198), (32, 198)]
    mask.polygon(body, fill=255)
    mask.arc((70, 30, 154, 130), 180, 360, fill=255, width=10)
    detail.arc((70, 30, 154, 130), 180, 360, fill=_shade(colour, 0.6), width=10)
    detail.line([(42, 126), (182, 126)], fill=_shade(colour, 0.7), width=2)
    detail.rectangle((104, 118, 120, 134), fill=(212, 175, 55))
    return body


def _shape_backpack(mask, detail, colour):
    mask.rounded_rectangle((58, 36, 166, 204), radius=30, fill=255)
    mask.arc((90, 14, 134, 58), 180, 360, fill=255, width=8)
    detail.arc((90, 14, 134, 58), 180, 360, fill=_shade(colour, 0.5), width=8)
    detail.rounded_rectangle((78, 120, 146, 192), radius=14, outline=_shade(colour, 0.6), width=4)
    detail.line([(84, 140), (140, 140)], fill=_shade(colour, 0.5), width=3)
    return []  # the rounded body has no polygon to outline


def _shape_cap(mask, detail, colour):
    mask.pieslice((48, 62, 176, 190), 180, 360, fill=255)
    brim = [(150, 120), (210, 130), (204, 142), (146, 134)]
    mask.polygon(brim, fill=255)
    detail.polygon(brim, fill=_shade(colour, 0.7))
    detail.ellipse((106, 58, 118, 70), fill=_shade(colour, 0.6))
    detail.line([(112, 64), (112, 126)], fill=_shade(colour, 0.7), width=2)
    return [(48, 126), (176, 126)]


SHAPES: dict[str, Callable] = {
    "tshirt": _shape_tshirt, "shirt": _shape_shirt, "jeans": _shape_jeans,
    "shorts": _shape_shorts, "dress": _shape_dress, "sneaker": _shape_sneaker,
    "boot": _shape_boot, "handbag": _shape_handbag, "backpack": _shape_backpack,
    "cap": _shape_cap,
}  # fmt: skip


def product_layer(drawing: Drawing) -> Image.Image:
    """The product alone on a transparent 224x224 canvas: patterned silhouette plus details."""
    rng = random.Random(drawing.image_seed)
    colour = COLOURS[drawing.colour]
    mask = Image.new("L", (SIZE, SIZE), 0)
    details = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    outline = SHAPES[drawing.category.shape](ImageDraw.Draw(mask), ImageDraw.Draw(details), colour)
    layer = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    layer.paste(_fill(colour, drawing.pattern, rng), mask=mask)
    layer.alpha_composite(details)
    if len(outline) > 2:
        ImageDraw.Draw(layer).polygon(outline, outline=_shade(colour, 0.5) + (255,), width=2)
    # A soft shadow-free edge so JPEG does not ring along the silhouette.
    return layer.filter(ImageFilter.SMOOTH)


def _backdrop(rng: random.Random) -> Image.Image:
    """A light studio background, slightly off-white and varying between products."""
    base = rng.randint(236, 252)
    tint = rng.choice([(0, 0, 0), (4, 2, -2), (-2, 0, 4), (2, 3, 0)])
    return Image.new("RGB", (SIZE, SIZE), tuple(max(0, min(255, base + t)) for t in tint))


def _room(rng: random.Random) -> Image.Image:
    """A lifestyle backdrop: a wall with a vertical gradient, a floor or table, a plant blob."""
    wall = rng.choice([(226, 214, 196), (200, 216, 222), (232, 222, 226), (214, 224, 206)])
    floor = rng.choice([(150, 110, 75), (120, 120, 124), (182, 150, 110)])
    image = Image.new("RGB", (SIZE, SIZE), wall)
    draw = ImageDraw.Draw(image)
    horizon = rng.randint(140, 170)
    for y in range(horizon):
        draw.line([(0, y), (SIZE, y)], fill=_shade(wall, 0.88 + 0.12 * y / horizon))
    draw.rectangle((0, horizon, SIZE, SIZE), fill=floor)
    for x in range(0, SIZE, 28):
        draw.line([(x, horizon), (x - 30, SIZE)], fill=_shade(floor, 0.85), width=2)
    px = rng.choice([16, 180])
    draw.rectangle((px, horizon - 40, px + 28, horizon), fill=(180, 90, 60))
    draw.ellipse((px - 14, horizon - 96, px + 42, horizon - 30), fill=(60, 120, 60))
    return image


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


def _place(layer: Image.Image, background: Image.Image, scale: float, dx: int, dy: int,
           angle: float = 0.0) -> Image.Image:  # fmt: skip
    size = max(1, round(SIZE * scale))
    product = layer.resize((size, size), Image.Resampling.LANCZOS)
    if angle:
        product = product.rotate(angle, resample=Image.Resampling.BICUBIC, expand=False)
    canvas = background.convert("RGBA")
    canvas.alpha_composite(product, ((SIZE - size) // 2 + dx, (SIZE - size) // 2 + dy))
    return canvas.convert("RGB")


def _recolour(image: Image.Image, hue_shift: float, gain: float) -> Image.Image:
    """A small hue rotation and brightness change: another camera and white balance."""
    hsv = image.convert("HSV")
    h, s, v = hsv.split()
    h = h.point(lambda x: int(x + hue_shift * 255) % 256)
    v = v.point(lambda x: min(255, int(x * gain)))
    return Image.merge("HSV", (h, s, v)).convert("RGB")


def drawn_images(item: demo.DemoProduct) -> list[tuple[bytes, str]]:
    """JPEG bytes and image kind for each photo of ``item``.

    An original gets a catalog shot and, for about half, a lifestyle shot (smaller, tilted, in a
    room). A duplicate gets the original's catalog shot re-photographed: shifted, slightly
    recoloured and re-compressed at a lower quality, which is what a second seller's photo of the
    same item looks like to a perceptual hash or an embedder.
    """
    drawing = item.drawing
    rng = random.Random(drawing.image_seed)
    layer = product_layer(drawing)
    scale = rng.uniform(0.86, 0.98)
    catalog = _place(layer, _backdrop(rng), scale, rng.randint(-4, 4), rng.randint(-4, 4))
    lifestyle_rng = random.Random(drawing.image_seed ^ 0x5EED)
    if item.duplicate_of:
        dup_rng = random.Random(f"dup:{drawing.image_seed}")
        shift = (dup_rng.choice([-1, 1]) * dup_rng.randint(6, 12),
                 dup_rng.choice([-1, 1]) * dup_rng.randint(4, 10))  # fmt: skip
        moved = Image.new("RGB", (SIZE, SIZE), catalog.getpixel((0, 0)))
        moved.paste(catalog, shift)
        photo = _recolour(moved, dup_rng.uniform(-0.02, 0.02), dup_rng.uniform(0.94, 1.04))
        return [(_jpeg(photo, dup_rng.randint(55, 68)), ImageKind.CATALOG)]
    photos = [(_jpeg(catalog, 90), ImageKind.CATALOG)]
    if drawing.lifestyle:
        scene = _place(layer, _room(lifestyle_rng), lifestyle_rng.uniform(0.55, 0.7),
                       lifestyle_rng.randint(-30, 30), lifestyle_rng.randint(0, 30),
                       angle=lifestyle_rng.uniform(-12, 12))  # fmt: skip
        photos.append((_jpeg(scene, 85), ImageKind.LIFESTYLE))
    return photos
