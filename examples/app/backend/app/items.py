"""The catalogue behind GET /api/items: a little real CPU work per request."""

from __future__ import annotations

import random

from .models import Item

_WORDS = (
    "alpha", "bravo", "cobalt", "delta", "ember", "fjord", "granite", "harbor",
    "indigo", "juniper", "kestrel", "lumen", "meadow", "nimbus", "orchid", "pylon",
)  # fmt: skip
_TAGS = ("new", "sale", "eco", "bulk", "gift", "rare")


def build_items(limit: int) -> list[Item]:
    """Build ``limit`` validated Item models (deterministic), most valuable first."""
    rng = random.Random(limit)  # noqa: S311 - demo data, not cryptography
    items = [
        Item(
            id=i,
            name=f"{rng.choice(_WORDS)}-{rng.choice(_WORDS)}-{i}",
            price=round(rng.uniform(0.5, 500.0), 2),
            quantity=rng.randint(0, 250),
            tags=sorted(rng.sample(_TAGS, k=rng.randint(0, 3))),
        )
        for i in range(1, limit + 1)
    ]
    items.sort(key=lambda item: (-item.total, item.id))
    return items
