"""A deterministic generated catalog for `pimhub demo`: brands, a category tree, products.

The same seed always gives the same catalog, so the README's curl examples keep working.
Product images are drawn here too (a colour per category, the SKU as text): small JPEGs,
made in a few milliseconds each, so the demo starts fast and every thumbnail works.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageDraw, ImageFont

from pimhub.assets.model import blob_key

if TYPE_CHECKING:
    from pimhub.assets.service import AssetService

BRANDS = [
    "Acme",
    "Northwind",
    "Contoso",
    "Fabrikam",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Vandelay",
    "Stark",
    "Wayne",
    "Tyrell",
    "Soylent",
    "Cyberdyne",
    "Oscorp",
    "Wonka",
    "Monarch",
    "Gringotts",
    "Aperture",
    "Duff",
]
DEPARTMENTS = {
    "men": ("Men", "Männer", ["tops", "bottoms", "jackets", "shoes"]),
    "women": ("Women", "Frauen", ["tops", "bottoms", "dresses", "shoes"]),
    "gear": ("Gear", "Ausrüstung", ["bags", "fitness", "watches", "bottles"]),
    "home": ("Home", "Zuhause", ["kitchen", "lighting", "textiles", "decor"]),
    "outdoor": ("Outdoor", "Draußen", ["tents", "backpacks", "lamps", "tools"]),
}
SUB_NAMES = {
    "tops": ("Tops", "Oberteile"),
    "bottoms": ("Bottoms", "Hosen"),
    "jackets": ("Jackets", "Jacken"),
    "shoes": ("Shoes", "Schuhe"),
    "dresses": ("Dresses", "Kleider"),
    "bags": ("Bags", "Taschen"),
    "fitness": ("Fitness", "Fitness"),
    "watches": ("Watches", "Uhren"),
    "bottles": ("Bottles", "Flaschen"),
    "kitchen": ("Kitchen", "Küche"),
    "lighting": ("Lighting", "Beleuchtung"),
    "textiles": ("Textiles", "Textilien"),
    "decor": ("Decor", "Dekoration"),
    "tents": ("Tents", "Zelte"),
    "backpacks": ("Backpacks", "Rucksäcke"),
    "lamps": ("Lamps", "Lampen"),
    "tools": ("Tools", "Werkzeug"),
}
# Product-line words per department: an "Alpine Towel" or a "Slim Kettlebell" reads wrong.
ADJECTIVES = {
    "men": ["Classic", "Urban", "Everyday", "Heritage", "Studio", "Slim", "Relaxed"],
    "women": ["Classic", "Urban", "Everyday", "Heritage", "Studio", "Slim", "Relaxed"],
    "gear": ["Pro", "Everyday", "Urban", "Light", "Studio", "Classic"],
    "home": ["Classic", "Nordic", "Studio", "Heritage", "Coastal"],
    "outdoor": ["Alpine", "Trail", "Summit", "Nordic", "Light", "Pro"],
}
COLORS = ["black", "white", "grey", "red", "blue", "green", "yellow", "orange"]


@dataclass(frozen=True)
class Kind:
    """What a leaf category holds: product nouns (English, German), materials, price and
    weight ranges, and the sizes it comes in (none: one size)."""

    nouns: tuple[tuple[str, str], ...]
    materials: tuple[str, ...]
    price: tuple[float, float]
    weight: tuple[float, float]  # kg
    sizes: tuple[str, ...] = ()
    variant_sizes: tuple[str, ...] = ()


CLOTHES = ("XS", "S", "M", "L", "XL", "XXL")
TOPS = ("S", "M", "L")
KINDS: dict[str, Kind] = {
    "men-tops": Kind(
        (
            ("Tee", "T-Shirt"),
            ("Polo", "Poloshirt"),
            ("Hoodie", "Kapuzenpullover"),
            ("Sweater", "Pullover"),
        ),
        ("cotton", "polyester", "wool"),
        (12, 90),
        (0.15, 0.7),
        CLOTHES,
        TOPS,
    ),
    "men-bottoms": Kind(
        (("Chino", "Chino"), ("Jeans", "Jeans"), ("Shorts", "Shorts"), ("Joggers", "Jogginghose")),
        ("cotton", "polyester"),
        (25, 120),
        (0.3, 0.9),
        ("29", "30", "31", "32", "33", "34", "36"),
        ("30", "32", "34"),
    ),
    "men-jackets": Kind(
        (
            ("Jacket", "Jacke"),
            ("Parka", "Parka"),
            ("Fleece", "Fleecejacke"),
            ("Rain Shell", "Regenjacke"),
        ),
        ("polyester", "wool", "cotton"),
        (60, 350),
        (0.4, 1.8),
        CLOTHES,
        TOPS,
    ),
    "men-shoes": Kind(
        (
            ("Sneaker", "Sneaker"),
            ("Boot", "Stiefel"),
            ("Loafer", "Halbschuh"),
            ("Runner", "Laufschuh"),
        ),
        ("leather", "polyester", "plastic"),
        (40, 220),
        (0.6, 1.6),
    ),
    "women-tops": Kind(
        (("Tee", "T-Shirt"), ("Blouse", "Bluse"), ("Tank Top", "Top"), ("Cardigan", "Strickjacke")),
        ("cotton", "polyester", "wool"),
        (12, 95),
        (0.1, 0.6),
        CLOTHES,
        TOPS,
    ),
    "women-bottoms": Kind(
        (("Jeans", "Jeans"), ("Skirt", "Rock"), ("Leggings", "Leggings"), ("Culottes", "Culotte")),
        ("cotton", "polyester", "wool"),
        (25, 130),
        (0.2, 0.8),
        ("34", "36", "38", "40"),
        ("34", "36", "38"),
    ),
    "women-dresses": Kind(
        (("Dress", "Kleid"), ("Maxi Dress", "Maxikleid"), ("Shirt Dress", "Blusenkleid")),
        ("cotton", "polyester", "wool"),
        (35, 220),
        (0.2, 0.9),
        CLOTHES,
        TOPS,
    ),
    "women-shoes": Kind(
        (
            ("Sneaker", "Sneaker"),
            ("Ankle Boot", "Stiefelette"),
            ("Sandal", "Sandale"),
            ("Pump", "Pumps"),
        ),
        ("leather", "polyester", "plastic"),
        (40, 240),
        (0.4, 1.3),
    ),
    "gear-bags": Kind(
        (
            ("Tote", "Shopper"),
            ("Messenger Bag", "Umhängetasche"),
            ("Duffel", "Reisetasche"),
            ("Laptop Sleeve", "Laptophülle"),
        ),
        ("leather", "polyester", "cotton"),
        (25, 260),
        (0.2, 1.5),
    ),
    "gear-fitness": Kind(
        (
            ("Yoga Mat", "Yogamatte"),
            ("Kettlebell", "Kettlebell"),
            ("Resistance Band", "Widerstandsband"),
            ("Jump Rope", "Springseil"),
        ),
        ("plastic", "metal"),
        (8, 120),
        (0.1, 12),
    ),
    "gear-watches": Kind(
        (("Watch", "Uhr"), ("Chronograph", "Chronograph"), ("Smartwatch", "Smartwatch")),
        ("metal", "leather", "glass"),
        (60, 480),
        (0.05, 0.2),
    ),
    "gear-bottles": Kind(
        (("Bottle", "Trinkflasche"), ("Flask", "Thermosflasche"), ("Tumbler", "Becher")),
        ("metal", "plastic", "glass"),
        (8, 45),
        (0.1, 0.6),
    ),
    "home-kitchen": Kind(
        (
            ("Knife", "Messer"),
            ("Mug", "Tasse"),
            ("Pan", "Pfanne"),
            ("Cutting Board", "Schneidebrett"),
        ),
        ("metal", "wood", "glass"),
        (6, 160),
        (0.2, 2.5),
    ),
    "home-lighting": Kind(
        (
            ("Floor Lamp", "Stehlampe"),
            ("Desk Lamp", "Schreibtischlampe"),
            ("Pendant Light", "Pendelleuchte"),
        ),
        ("metal", "glass", "wood"),
        (30, 320),
        (0.8, 8),
    ),
    "home-textiles": Kind(
        (
            ("Towel", "Handtuch"),
            ("Blanket", "Decke"),
            ("Cushion Cover", "Kissenbezug"),
            ("Bed Linen", "Bettwäsche"),
        ),
        ("cotton", "wool", "polyester"),
        (9, 140),
        (0.2, 2.2),
    ),
    "home-decor": Kind(
        (
            ("Vase", "Vase"),
            ("Picture Frame", "Bilderrahmen"),
            ("Candle Holder", "Kerzenhalter"),
            ("Mirror", "Spiegel"),
        ),
        ("glass", "wood", "metal"),
        (10, 180),
        (0.2, 6),
    ),
    "outdoor-tents": Kind(
        (("Tent", "Zelt"), ("Tarp", "Tarp"), ("Bivy", "Biwaksack")),
        ("polyester",),
        (45, 480),
        (0.5, 6),
    ),
    "outdoor-backpacks": Kind(
        (
            ("Backpack", "Rucksack"),
            ("Daypack", "Tagesrucksack"),
            ("Hydration Pack", "Trinkrucksack"),
        ),
        ("polyester",),
        (35, 260),
        (0.4, 2.2),
    ),
    "outdoor-lamps": Kind(
        (("Headlamp", "Stirnlampe"), ("Lantern", "Laterne"), ("Flashlight", "Taschenlampe")),
        ("metal", "plastic"),
        (12, 95),
        (0.05, 0.9),
    ),
    "outdoor-tools": Kind(
        (
            ("Multitool", "Multitool"),
            ("Folding Knife", "Taschenmesser"),
            ("Camp Axe", "Beil"),
            ("Trowel", "Kelle"),
        ),
        ("metal", "wood"),
        (12, 140),
        (0.1, 1.4),
    ),
}
# Which leaf categories each brand makes: every brand makes something, every category has
# at least two makers, and a kitchen brand does not make hiking boots.
LINES = {
    "Northwind": ["men-tops", "men-bottoms", "men-jackets", "women-tops", "men-shoes"],
    "Contoso": ["men-tops", "men-bottoms", "women-tops", "women-bottoms", "women-dresses"],
    "Fabrikam": ["men-jackets", "women-tops", "women-bottoms", "women-dresses"],
    "Tyrell": ["men-tops", "men-jackets", "women-dresses", "women-bottoms"],
    "Stark": ["men-shoes", "women-shoes", "outdoor-tools"],
    "Vandelay": ["men-shoes", "women-shoes", "gear-bags"],
    "Hooli": ["women-shoes", "gear-fitness", "gear-watches"],
    "Globex": ["gear-bags", "outdoor-backpacks"],
    "Monarch": ["gear-bags", "home-textiles", "home-decor"],
    "Initech": ["gear-fitness", "gear-bottles"],
    "Cyberdyne": ["gear-fitness", "gear-watches"],
    "Wayne": ["gear-watches", "outdoor-lamps"],
    "Oscorp": ["gear-watches", "home-lighting"],
    "Soylent": ["gear-bottles", "home-kitchen"],
    "Duff": ["gear-bottles", "home-kitchen"],
    "Wonka": ["home-kitchen", "home-decor"],
    "Aperture": ["home-lighting", "outdoor-lamps"],
    "Gringotts": ["home-textiles", "home-decor", "home-lighting"],
    "Acme": ["outdoor-tents", "outdoor-backpacks", "outdoor-tools", "outdoor-lamps"],
    "Umbrella": ["outdoor-tents", "outdoor-backpacks", "home-textiles"],
}
# The README's tour shows the first product's size variants (PH-00001-M), so it is a top.
FIRST_CATEGORY = "men-tops"


def makers(category: str) -> list[str]:
    """The brands that make products of a leaf category."""
    return [brand for brand in BRANDS if category in LINES[brand]]


@dataclass(frozen=True)
class DemoCatalog:
    brands: list[dict[str, Any]]
    categories: list[dict[str, Any]]
    products: list[dict[str, Any]]
    # Variants as (parent sku, own values): sizes of the apparel among the first products.
    variants: list[tuple[str, dict[str, Any]]]


def _ean13(number: int) -> str:
    digits = f"400{number:09d}"
    check = (10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10) % 10
    return digits + str(check)


def _categories() -> Iterator[dict[str, Any]]:
    for position, (code, (en, de, subs)) in enumerate(DEPARTMENTS.items()):
        yield {"code": code, "name": {"en": en, "de": de}, "position": position}
        for sub_position, sub in enumerate(subs):
            sub_en, sub_de = SUB_NAMES[sub]
            yield {
                "code": f"{code}-{sub}",
                "name": {"en": f"{en} {sub_en}", "de": f"{de} {sub_de}"},
                "parent": code,
                "position": sub_position,
            }


def generate(products: int = 1000, seed: int = 42) -> DemoCatalog:
    """The demo catalog; relations name their targets by business key. Each product is of
    its category's kind (nouns, materials, prices, weights, sizes) and by a brand that makes
    that kind of product."""
    rng = random.Random(seed)
    brands = [
        {"code": name.lower(), "name": name, "website": f"https://{name.lower()}.example"}
        for name in BRANDS
    ]
    categories = list(_categories())
    leaves = [c["code"] for c in categories if "parent" in c]
    items = [
        _product(n, FIRST_CATEGORY if n == 1 else rng.choice(leaves), rng)
        for n in range(1, products + 1)
    ]
    return DemoCatalog(brands, categories, items, _variants(items[:VARIANT_PARENTS_AMONG], rng))


def _product(n: int, category: str, rng: random.Random) -> dict[str, Any]:
    kind = KINDS[category]
    brand = rng.choice(makers(category))
    adjective = rng.choice(ADJECTIVES[category.split("-")[0]])
    noun, noun_de = rng.choice(kind.nouns)
    materials = sorted(rng.sample(kind.materials, rng.randint(1, min(2, len(kind.materials)))))
    product: dict[str, Any] = {
        "sku": f"PH-{n:05d}",
        "name": {"en": f"{brand} {adjective} {noun}", "de": f"{brand} {adjective} {noun_de}"},
        "description": {
            "en": f"<p>The {adjective.lower()} {noun.lower()} by {brand}, "
            f"in {' and '.join(materials)}.</p>"
        },
        "ean": _ean13(n),
        "price": {"amount": round(rng.uniform(*kind.price), 2), "currency": "EUR"},
        "stock": rng.randint(0, 250),
        "weight": round(rng.uniform(*kind.weight), 3),
        "category": category,
        "brand": brand.lower(),
        "color": rng.choice(COLORS),
        "material": materials,
        "featured": rng.random() < 0.1,
        "releasedOn": f"20{rng.randint(20, 26)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
    }
    if kind.sizes:
        product["size"] = rng.choice(kind.sizes)
    # Some products lack what the `ecommerce` completeness channel asks for (no image, no
    # German description), so completeness filters have something to find. Chosen by number.
    if n % 4:
        product["image"] = image_path(product["sku"])
    if n % 2:
        product["description"]["de"] = f"<p>{adjective} {noun_de} von {brand}.</p>"
    return product


VARIANT_PARENTS_AMONG = 50


def _variants(
    products: list[dict[str, Any]], rng: random.Random
) -> list[tuple[str, dict[str, Any]]]:
    """Three sizes of each sized product (its category's usual ones): a variant sets its
    axes (colour, size) and its stock, and inherits name, price and everything else."""
    out: list[tuple[str, dict[str, Any]]] = []
    for product in products:
        if "size" not in product:
            continue
        for size in KINDS[product["category"]].variant_sizes:
            own = {
                "sku": f"{product['sku']}-{size}",
                "color": product["color"],
                "size": size,
                "stock": rng.randint(0, 40),
            }
            out.append((product["sku"], own))
    return out


IMAGE_SIZE = 400


def image_path(sku: str) -> str:
    """Where the demo keeps a product's image (an asset path)."""
    return f"/products/{sku.lower()}.jpg"


def category_colour(category: str) -> tuple[int, int, int]:
    """A light colour of its own for each category, the same on every run."""
    hue = int(hashlib.sha256(category.encode()).hexdigest()[:4], 16) / 0xFFFF
    red, green, blue = colorsys.hls_to_rgb(hue, 0.72, 0.55)
    return round(red * 255), round(green * 255), round(blue * 255)


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except ImportError:  # Pillow built without FreeType: the small bitmap font
        return ImageFont.load_default()


def product_image(sku: str, category: str) -> bytes:
    """A JPEG of IMAGE_SIZE pixels square: the category's colour with the SKU on it."""
    image = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), category_colour(category))
    draw = ImageDraw.Draw(image)
    centre = IMAGE_SIZE / 2
    draw.rounded_rectangle((40, 40, IMAGE_SIZE - 40, IMAGE_SIZE - 40), 24, outline="white", width=6)
    draw.text((centre, centre - 20), sku, fill=(40, 40, 40), font=_font(44), anchor="mm")
    draw.text((centre, centre + 40), category, fill=(70, 70, 70), font=_font(20), anchor="mm")
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()


def upload_images(assets: AssetService, products: list[dict[str, Any]]) -> int:
    """Store the image of each product that names one, before the products refer to them;
    how many."""
    wanted = [p for p in products if "image" in p]

    def prepare(product: dict[str, Any]) -> bytes:
        data = product_image(product["sku"], product["category"])
        # Blobs are named by content: put here, on the pool, the disk's fsyncs overlap, and
        # add() finds the content stored and only writes the row (twice as fast overall).
        key = blob_key(hashlib.sha256(data).hexdigest())
        assets.store.put(key, io.BytesIO(data), len(data), "image/jpeg")
        return data

    with ThreadPoolExecutor(max_workers=4) as pool:
        for product, data in zip(wanted, pool.map(prepare, wanted), strict=True):
            assets.add(io.BytesIO(data), product["image"], author="demo")
    return len(wanted)
