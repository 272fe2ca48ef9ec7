"""Word lists and weights the generators draw from: the realistic-looking part of the data.

Weights are relative (they need not sum to 1). E-mail domains are the reserved example
domains of RFC 2606 / RFC 6761, so generated addresses can never reach a real mailbox.
"""

from __future__ import annotations

FIRST_NAMES: tuple[str, ...] = (
    "Ada", "Amara", "Ana", "Arjun", "Bea", "Camille", "Chen", "Dario", "Elif", "Emma", "Farah", "Felix",
    "Grace", "Hana", "Hugo", "Ines", "Ivan", "Jonas", "Kai", "Kofi", "Lena", "Leo", "Lucia", "Maya",
    "Mateo", "Mei", "Nadia", "Nia", "Noah", "Olga", "Omar", "Priya", "Rafael", "Rosa", "Sami", "Sofia",
    "Tariq", "Theo", "Uma", "Yuki", "Zara", "Zoe",
)
LAST_NAMES: tuple[str, ...] = (
    "Abe", "Adeyemi", "Alvarez", "Bauer", "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad",
    "Ito", "Jansen", "Kaur", "Kim", "Kowalski", "Laine", "Lopez", "Mensah", "Moreau", "Murphy", "Nakamura",
    "Novak", "Okafor", "Olsen", "Patel", "Petrov", "Quinn", "Rossi", "Santos", "Schmidt", "Silva", "Singh",
    "Tanaka", "Vargas", "Walsh", "Wang", "Yilmaz", "Zhang", "Ziegler",
)
EMAIL_DOMAINS: tuple[tuple[str, float], ...] = (
    ("example.com", 0.45), ("example.org", 0.25), ("example.net", 0.20), ("mail.example", 0.10),
)

REGIONS: tuple[tuple[str, float], ...] = (
    ("north_america", 0.35), ("europe", 0.30), ("asia_pacific", 0.22), ("latin_america", 0.08),
    ("middle_east_africa", 0.05),
)

# E-commerce.
SEGMENTS: tuple[tuple[str, float], ...] = (("consumer", 0.80), ("small_business", 0.15), ("enterprise", 0.05))
ORDER_STATUSES: tuple[tuple[str, float], ...] = (
    ("placed", 0.08), ("paid", 0.12), ("shipped", 0.20), ("delivered", 0.50), ("cancelled", 0.06),
    ("returned", 0.04),
)
CHANNELS: tuple[tuple[str, float], ...] = (("web", 0.45), ("mobile", 0.40), ("marketplace", 0.15))
# Category, share of the catalog, median price in dollars, price spread (sigma of the log).
CATEGORIES: tuple[tuple[str, float, float, float], ...] = (
    ("electronics", 0.14, 120.0, 0.9), ("home", 0.16, 40.0, 0.8), ("apparel", 0.18, 35.0, 0.6),
    ("beauty", 0.10, 18.0, 0.5), ("sports", 0.10, 45.0, 0.8), ("books", 0.12, 14.0, 0.4),
    ("toys", 0.08, 22.0, 0.6), ("grocery", 0.12, 6.0, 0.5),
)
PRODUCT_ADJECTIVES: tuple[str, ...] = (
    "Classic", "Compact", "Deluxe", "Eco", "Essential", "Everyday", "Pro", "Smart", "Soft", "Ultra", "Vintage",
    "Wireless",
)
PRODUCT_NOUNS: dict[str, tuple[str, ...]] = {
    "electronics": ("Headphones", "Speaker", "Charger", "Monitor", "Keyboard", "Camera"),
    "home": ("Lamp", "Blanket", "Kettle", "Vase", "Cushion", "Shelf"),
    "apparel": ("Jacket", "T-Shirt", "Sneakers", "Scarf", "Jeans", "Hoodie"),
    "beauty": ("Serum", "Lip Balm", "Shampoo", "Face Mask", "Lotion"),
    "sports": ("Yoga Mat", "Water Bottle", "Dumbbell", "Tennis Racket", "Running Belt"),
    "books": ("Cookbook", "Novel", "Atlas", "Notebook", "Field Guide"),
    "toys": ("Puzzle", "Building Set", "Plush Bear", "Board Game", "Kite"),
    "grocery": ("Coffee Beans", "Olive Oil", "Granola", "Green Tea", "Dark Chocolate"),
}
# Share of order lines that carry a discount, and the percentages they get.
DISCOUNTED_LINE_SHARE = 0.2
DISCOUNT_PERCENTS: tuple[tuple[int, float], ...] = (
    (5, 0.25), (10, 0.30), (15, 0.15), (20, 0.15), (25, 0.07), (30, 0.05), (50, 0.03),
)

# SaaS.
INDUSTRIES: tuple[tuple[str, float], ...] = (
    ("software", 0.24), ("financial_services", 0.14), ("healthcare", 0.12), ("retail", 0.12),
    ("manufacturing", 0.10), ("education", 0.08), ("media", 0.08), ("public_sector", 0.05), ("other", 0.07),
)
SIZE_BANDS: tuple[tuple[str, float], ...] = (
    ("1-10", 0.45), ("11-50", 0.30), ("51-200", 0.15), ("201-1000", 0.07), ("1000+", 0.03),
)
ORG_NAME_PREFIXES: tuple[str, ...] = (
    "Acme", "Apex", "Blue", "Bright", "Cedar", "Cobalt", "Delta", "Ever", "Granite", "Harbor", "Iron", "Lumen",
    "Maple", "Nimbus", "North", "Orbit", "Pine", "Quartz", "River", "Summit", "Vector", "Willow",
)
ORG_NAME_SUFFIXES: tuple[str, ...] = (
    "Labs", "Systems", "Analytics", "Health", "Logistics", "Works", "Partners", "Studio", "Group", "Foods",
)
ROLES: tuple[tuple[str, float], ...] = (("owner", 0.05), ("admin", 0.12), ("member", 0.63), ("viewer", 0.20))
EVENT_TYPES: tuple[tuple[str, float], ...] = (
    ("page_view", 0.42), ("feature_used", 0.25), ("api_call", 0.15), ("login", 0.10), ("export", 0.05),
    ("invite_sent", 0.03),
)
# Plan, share of new subscriptions, list price per seat per month in dollars.
PLANS: tuple[tuple[str, float, float], ...] = (
    ("free", 0.45, 0.0), ("starter", 0.30, 8.0), ("growth", 0.18, 20.0), ("enterprise", 0.07, 45.0),
)
SUBSCRIPTION_STATUSES: tuple[tuple[str, float], ...] = (
    ("trialing", 0.15), ("active", 0.70), ("past_due", 0.05), ("cancelled", 0.10),
)


def names(pairs: tuple[tuple[str, float], ...]) -> list[str]:
    """The labels of a ``(label, weight)`` list."""
    return [label for label, _ in pairs]


def weights(pairs: tuple[tuple[str, float], ...]) -> list[float]:
    """The weights of a ``(label, weight)`` list."""
    return [weight for _, weight in pairs]
