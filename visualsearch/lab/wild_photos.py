"""Lab: photo search with shopper-style photos, simulated from catalog shots.

A shopper photographs a product where it is: on a table, a bed, in a shop, not on a studio's
white sweep, smaller than the frame, off-centre, tilted, under warm or cold light, a little
blurred and recompressed. No such photos of the fashion set exist, so each query photo is made
from a catalog shot (:func:`wild`):

- the product is cut out of its light studio background (the near-white region connected to
  the photo's border, so white garments keep their inside);
- it is pasted, scaled to 40-75% of the frame's height, at a random place and tilt (±12°), onto
  a 240x320 background: a random crop of one of scikit-learn's two sample photographs (a temple,
  a flower), flipped and rescaled, or a smooth two-colour field with grain;
- then brightness, contrast, colour temperature, blur and JPEG quality are drawn at random.

Each query is a gallery photo made wild (seeded per product), searched in process through
``visualsearch.search.search`` (what ``POST /api/search/`` calls) against the gallery that
``search_api_eval`` imported, its own product dropped. Relevant: same articleType. The clean
photo and the wild one run in the same run, so the gap is paired.

    python manage.py shell -c "from visualsearch.lab.wild_photos import main; main()"

Numbers in docs/benchmarks.md ("Shopper photos: products off the studio background").
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

FRAME = (240, 320)  # width, height: a phone photo's 3:4, downscaled


def scene_photos() -> list[Image.Image]:
    from sklearn.datasets import load_sample_images  # noqa: PLC0415

    return [Image.fromarray(image) for image in load_sample_images().images]


# Photos of things a fashion shop does not sell, shipped in scikit-image's wheel (skimage/data):
# a cat, a cup of coffee, a rocket, a motorcycle, the moon, coins, a clock, bricks, grass...
# Photos of people (the astronaut, the cameraman) are left out: a shop of clothes sells what
# they wear.
FOREIGN_PHOTOS = (
    "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "horse.png", "moon.png",
    "hubble_deep_field.jpg", "coins.png", "retina.jpg", "clock_motion.png", "page.png",
    "ihc.png", "cell.png", "grass.png", "gravel.png", "brick.png", "logo.png", "text.png",
    "color.png", "microaneurysms.png", "chessboard_RGB.png",
)  # fmt: skip


def foreign_photos(*, seed: int = 0) -> list[Image.Image]:
    """Photos of things a fashion shop does not sell, for the relevance floor's other side:
    each of ``FOREIGN_PHOTOS`` and scikit-learn's two sample photographs (a temple, a flower),
    whole and as one seeded crop of 50-80% of each side, shrunk to at most 320 px and
    recompressed like an upload. Needs scikit-image (a dev dependency)."""
    import skimage  # noqa: PLC0415

    folder = Path(skimage.__file__).parent / "data"
    sources = [Image.open(folder / name).convert("RGB") for name in FOREIGN_PHOTOS]
    sources += scene_photos()
    rng = np.random.default_rng(seed)
    out = []
    for photo in sources:
        w, h = photo.size
        cw, ch = int(w * rng.uniform(0.5, 0.8)), int(h * rng.uniform(0.5, 0.8))
        left, top = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        for image in (photo, photo.crop((left, top, left + cw, top + ch))):
            image = image.copy()
            image.thumbnail((320, 320))
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=85)
            out.append(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
    return out


def _field(rng: np.random.Generator) -> Image.Image:
    """A smooth two-colour gradient with grain: a wall, a sheet, a table top."""
    w, h = FRAME
    a, b = rng.integers(30, 230, 3), rng.integers(30, 230, 3)
    angle = rng.uniform(0, np.pi)
    x, y = np.meshgrid(np.linspace(0, 1, w), np.linspace(0, 1, h))
    t = np.clip(np.cos(angle) * x + np.sin(angle) * y, 0, 1)[..., None]
    pixels = a * (1 - t) + b * t + rng.normal(0, 6, (h, w, 1))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _scene(rng: np.random.Generator, photos: list[Image.Image]) -> Image.Image:
    if rng.random() < 0.5:
        return _field(rng)
    photo = photos[int(rng.integers(len(photos)))]
    scale = rng.uniform(0.4, 1.0)
    cw, ch = int(photo.width * scale * 0.75), int(photo.height * scale)
    cw, ch = min(cw, photo.width), min(ch, photo.height)
    left, top = (
        int(rng.integers(0, photo.width - cw + 1)),
        int(rng.integers(0, photo.height - ch + 1)),
    )
    crop = photo.crop((left, top, left + cw, top + ch)).resize(FRAME, Image.BILINEAR)
    return crop.transpose(Image.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else crop


def cutout_mask(photo: Image.Image, *, light: int = 225) -> Image.Image:
    """The product's mask ("L", 255 = product): every pixel except the light, low-saturation
    region connected to the photo's border (the studio background)."""
    from scipy import ndimage  # noqa: PLC0415

    rgb = np.asarray(photo.convert("RGB"), dtype=np.int16)
    bright = rgb.min(axis=2) >= light
    flat = (rgb.max(axis=2) - rgb.min(axis=2)) <= 24
    labels, _ = ndimage.label(bright & flat)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    background = np.isin(labels, border[border > 0])
    product = ndimage.binary_opening(~background, iterations=1)
    return Image.fromarray((product * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.6))


def wild(
    photo: Image.Image,
    *,
    rng: np.random.Generator,
    scenes: list[Image.Image],
    box: list | None = None,
) -> Image.Image:
    """``photo`` (a catalog shot) as a shopper might take it; see the module docstring. ``box``,
    when given, receives where the product went: (left, top, right, bottom)."""
    photo = photo.convert("RGB")
    mask = cutout_mask(photo)
    angle = float(rng.uniform(-12, 12))
    photo = photo.rotate(angle, resample=Image.BILINEAR, expand=True, fillcolor=(255, 255, 255))
    mask = mask.rotate(angle, resample=Image.BILINEAR, expand=True, fillcolor=0)
    w, h = FRAME
    height = int(h * rng.uniform(0.4, 0.75))
    width = max(1, int(photo.width * height / photo.height))
    if width > w * 0.95:
        width, height = int(w * 0.95), max(1, int(photo.height * w * 0.95 / photo.width))
    photo, mask = photo.resize((width, height), Image.BICUBIC), mask.resize((width, height))
    frame = _scene(rng, scenes).copy()
    left = int(rng.integers(0, w - width + 1))
    top = int(rng.integers(0, h - height + 1))
    frame.paste(photo, (left, top), mask)
    if box is not None:
        box[:] = [left, top, left + width, top + height]
    frame = ImageEnhance.Brightness(frame).enhance(float(rng.uniform(0.75, 1.2)))
    frame = ImageEnhance.Contrast(frame).enhance(float(rng.uniform(0.8, 1.15)))
    warm = float(rng.uniform(-0.08, 0.08))  # colour temperature: red up, blue down, or back
    pixels = np.asarray(frame, dtype=np.float32) * np.array([1 + warm, 1.0, 1 - warm])
    frame = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    frame = frame.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 1.0))))
    buffer = io.BytesIO()
    frame.save(buffer, format="JPEG", quality=int(rng.integers(60, 91)))
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def queries(gallery: dict, *, seed: int = 0) -> dict[int, tuple[Image.Image, Image.Image]]:
    """{product id: (its clean photo, its wild photo)}, each wild photo seeded by the id."""
    scenes = scene_photos()
    out = {}
    for pk in sorted(gallery):
        with Image.open(gallery[pk].path) as image:
            clean = image.convert("RGB")
        rng = np.random.default_rng([seed, int(gallery[pk].external_id)])
        out[pk] = (clean, wild(clean, rng=rng, scenes=scenes))
    return out


# label → (which photos, settings overrides, search keyword arguments); main's ``base`` row (the
# plain wild photos unless told) is what every gain is measured against
VARIANTS = {
    "clean photo": ("clean", {"SEARCH_SUBJECT_CROP": False}, {}),
    "clean photo, subject crop and cutout": ("clean", {"SEARCH_SUBJECT_CROP": True}, {}),
    "wild photo": ("wild", {"SEARCH_SUBJECT_CROP": False}, {}),
    "wild photo, crops": ("wild", {"SEARCH_SUBJECT_CROP": False}, {"crops": True}),
    "wild photo, subject crop": (
        "wild",
        {"SEARCH_SUBJECT_CROP": True, "SEARCH_SUBJECT_CUTOUT": False},
        {},
    ),  # fmt: skip
    "wild photo, subject crop and cutout": (
        "wild",
        {
            "SEARCH_SUBJECT_CROP": True,
            "SEARCH_SUBJECT_CUTOUT": True,
            "SEARCH_SUBJECT_RELEVANCE": False,
        },
        {},
    ),  # fmt: skip
    "wild photo, subject crop and cutout, subject relevance": (
        "wild",
        {
            "SEARCH_SUBJECT_CROP": True,
            "SEARCH_SUBJECT_CUTOUT": True,
            "SEARCH_SUBJECT_RELEVANCE": True,
        },
        {},
    ),  # fmt: skip
}


def main(
    *, split: str = "validation", data: Path | None = None, seed: int = 0, limit: int | None = None,
    variants: dict | None = None, save: Path | None = None, base: str = "wild photo",
) -> dict[str, dict[str, tuple[float, float, float]]]:  # fmt: skip
    """Each of ``variants`` (default ``VARIANTS``) on the same queries; prints each measure
    with its gain against the ``base`` row (the plain wild photos) and the paired standard
    error, the share answered "no good match" (and, for the wild rows, the same share of
    :func:`foreign_photos`, things the shop does not sell), and the median time per query.
    ``save``: a folder to write a few wild photos to, to look at."""
    from django.test import override_settings  # noqa: PLC0415

    from visualsearch.lab.fusion_sweep import _gallery, photo_precision  # noqa: PLC0415
    from visualsearch.lab.metrics import paired_standard_error  # noqa: PLC0415

    seller, gallery = _gallery(split, data)
    made = queries(gallery, seed=seed)
    if limit:
        made = dict(list(made.items())[:limit])
    if save:
        Path(save).mkdir(parents=True, exist_ok=True)
        for pk, (_, photo) in list(made.items())[:12]:
            photo.save(Path(save) / f"{pk}.jpg")
    photos = {"clean": {pk: c for pk, (c, _) in made.items()},
              "wild": {pk: w for pk, (_, w) in made.items()}}  # fmt: skip
    foreign = dict(enumerate(foreign_photos()))
    runs, foreign_unmatched = {}, {}
    for label, (which, overrides, kwargs) in (variants or VARIANTS).items():
        with override_settings(**overrides):
            runs[label] = photo_precision(photos[which], gallery=gallery, seller=seller,
                                    search_kwargs=kwargs)  # fmt: skip
            if which == "wild":
                foreign_unmatched[label] = photo_precision(
                    foreign, gallery={}, seller=seller, search_kwargs=kwargs
                )["no match"]
    base = runs.get(base) or next(iter(runs.values()))
    report = {}
    for label, run in runs.items():
        report[label] = {}
        for name in ("P@10", "P@5"):
            gain = run[name] - base[name]
            report[label][name] = (float(run[name].mean()), float(gain.mean()),
                                   paired_standard_error(gain))  # fmt: skip
        line = ", ".join(f"{n} {m:.4f} ({g:+.4f}, SE {se:.4f})" for n, (m, g, se)
                         in report[label].items())  # fmt: skip
        if label in foreign_unmatched:
            line += (f", foreign photos answered no good match "
                     f"{int(foreign_unmatched[label].sum())}/{len(foreign)}")  # fmt: skip
        unmatched = run["no match"].astype(float)
        change = unmatched - base["no match"].astype(float)
        error = paired_standard_error(change)
        report[label]["no match"] = (float(unmatched.mean()), float(change.mean()), error)
        print(f"{split}: {label}: {line}, no good match {unmatched.mean():.3f} "
              f"({change.mean():+.3f}, SE {error:.3f}), median "
              f"{np.median(run['ms']):.0f} ms [{len(run['ms'])} queries]", flush=True)  # fmt: skip
    return report
