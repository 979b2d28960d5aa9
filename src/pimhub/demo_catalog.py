"""A deterministic generated catalog for `pimhub demo`: brands, a category tree, products.

The same seed always gives the same catalog, so the README's curl examples keep working.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

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
ADJECTIVES = [
    "Classic",
    "Urban",
    "Alpine",
    "Coastal",
    "Everyday",
    "Pro",
    "Light",
    "Heritage",
    "Summit",
    "Nordic",
    "Studio",
    "Trail",
]
NOUNS = [
    "Tee",
    "Hoodie",
    "Jacket",
    "Sneaker",
    "Bag",
    "Bottle",
    "Lamp",
    "Tent",
    "Watch",
    "Mug",
    "Blanket",
    "Backpack",
    "Chino",
    "Dress",
    "Knife",
    "Towel",
]
COLORS = ["black", "white", "grey", "red", "blue", "green", "yellow", "orange"]
SIZES = ["XS", "S", "M", "L", "XL", "XXL"]
MATERIALS = ["cotton", "polyester", "wool", "leather", "metal", "plastic", "wood", "glass"]


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
    """The demo catalog; relations name their targets by business key."""
    rng = random.Random(seed)
    brands = [
        {"code": name.lower(), "name": name, "website": f"https://{name.lower()}.example"}
        for name in BRANDS
    ]
    categories = list(_categories())
    leaves = [c["code"] for c in categories if "parent" in c]
    items: list[dict[str, Any]] = []
    for n in range(1, products + 1):
        adjective, noun = rng.choice(ADJECTIVES), rng.choice(NOUNS)
        brand = rng.choice(brands)
        name = f"{brand['name']} {adjective} {noun}"
        product: dict[str, Any] = {
            "sku": f"PH-{n:05d}",
            "name": {"en": name, "de": f"{name} (DE)"},
            "description": {
                "en": f"<p>The {adjective.lower()} {noun.lower()} by {brand['name']}.</p>"
            },
            "ean": _ean13(n),
            "price": {"amount": round(rng.uniform(5, 500), 2), "currency": "EUR"},
            "stock": rng.randint(0, 250),
            "weight": round(rng.uniform(0.05, 12), 3),
            "category": rng.choice(leaves),
            "brand": brand["code"],
            "color": rng.choice(COLORS),
            "material": sorted(rng.sample(MATERIALS, rng.randint(1, 2))),
            "featured": rng.random() < 0.1,
            "releasedOn": f"20{rng.randint(20, 26)}-{rng.randint(1, 12):02d}-"
            f"{rng.randint(1, 28):02d}",
        }
        if noun in ("Tee", "Hoodie", "Jacket", "Chino", "Dress", "Sneaker"):
            product["size"] = rng.choice(SIZES)
        # Some products lack what the `ecommerce` completeness channel asks for (no image,
        # no German description), so completeness filters have something to find. Chosen by
        # number, not by `rng`, so every other value stays as it was.
        if n % 4:
            product["image"] = f"products/{product['sku'].lower()}.jpg"
        if n % 2:
            product["description"]["de"] = f"<p>{adjective} {noun} von {brand['name']}.</p>"
        items.append(product)
    return DemoCatalog(brands, categories, items, _variants(items[:VARIANT_PARENTS_AMONG], rng))


VARIANT_PARENTS_AMONG = 50
VARIANT_SIZES = ("S", "M", "L")


def _variants(
    products: list[dict[str, Any]], rng: random.Random
) -> list[tuple[str, dict[str, Any]]]:
    """Three sizes of each sized product: a variant sets its axes (colour, size) and its
    stock, and inherits name, price and everything else from its parent."""
    out: list[tuple[str, dict[str, Any]]] = []
    for product in products:
        if "size" not in product:
            continue
        for size in VARIANT_SIZES:
            own = {
                "sku": f"{product['sku']}-{size}",
                "color": product["color"],
                "size": size,
                "stock": rng.randint(0, 40),
            }
            out.append((product["sku"], own))
    return out
