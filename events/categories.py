"""Event categories in feeds: the labels we export and the synonyms that map back to codes."""

from collections.abc import Iterable

from django.utils.text import slugify

from events.models import BULKY_WASTE

# German labels used when exporting; together with their synonyms they map back to the codes.
EXPORT_LABELS = {
    "market": "Markt",
    "music": "Konzert",
    "theatre": "Theater",
    "exhibition": "Ausstellung",
    "festival": "Fest",
    "sport": "Sport",
    "family": "Familie",
    "guided_tour": "Führung",
    "cleanup": "Putzaktion",
    "fair": "Messe",
    "christmas_market": "Weihnachtsmarkt",
    BULKY_WASTE: "Sperrmüll",
}
CATEGORY_SYNONYMS = {
    "markt": "market",
    "märkte": "market",
    "flohmarkt": "market",
    "trödelmarkt": "market",
    "wochenmarkt": "market",
    "bauernmarkt": "market",
    "market": "market",
    "flea market": "market",
    "konzert": "music",
    "musik": "music",
    "concert": "music",
    "music": "music",
    "theater": "theatre",
    "oper": "theatre",
    "theatre": "theatre",
    "ausstellung": "exhibition",
    "museum": "exhibition",
    "exhibition": "exhibition",
    "fest": "festival",
    "stadtfest": "festival",
    "festival": "festival",
    "sport": "sport",
    "lauf": "sport",
    "familie": "family",
    "kinder": "family",
    "family": "family",
    "führung": "guided_tour",
    "stadtführung": "guided_tour",
    "guided tour": "guided_tour",
    "putzaktion": "cleanup",
    "aufräumaktion": "cleanup",
    "frühjahrsputz": "cleanup",
    "clean-up": "cleanup",
    "cleanup": "cleanup",
    "messe": "fair",
    "fair": "fair",
    "trade fair": "fair",
    "weihnachtsmarkt": "christmas_market",
    "christmas market": "christmas_market",
    "sperrmüll": BULKY_WASTE,
    "sperrmuell": BULKY_WASTE,
    "sperrmüllsammlung": BULKY_WASTE,
    "sperrmüllabfuhr": BULKY_WASTE,
    "bulky waste": BULKY_WASTE,
    "bulky-waste collection": BULKY_WASTE,
}


def category_code(labels: Iterable[str]) -> str:
    """The first label we know (by code, German label or synonym); else the first one as slug."""
    labels = [label.strip() for label in labels if label and label.strip()]
    for label in labels:
        key = label.lower()
        if key in CATEGORY_SYNONYMS:
            return CATEGORY_SYNONYMS[key]
        if key.replace("-", "_") in EXPORT_LABELS:
            return key.replace("-", "_")
    return slugify(labels[0]).replace("-", "_")[:64] if labels else ""
