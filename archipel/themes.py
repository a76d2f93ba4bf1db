"""Themes keep a readable label and a hashtag form that Mastodon accepts (letters, digits, '_')."""

import re
import unicodedata
from functools import lru_cache


@lru_cache(maxsize=8192)  # listings key every tag of every card: the same few hundred labels
def theme_key(label: str) -> str:
    """Case, accents and separators do not matter: 'Transition alimentaire' = '#TransitionAlimentaire'."""
    ascii_text = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", ascii_text.lower())


@lru_cache(maxsize=8192)  # likewise: every tag of every item the catalog and outboxes serve
def hashtag_for(label: str) -> str:
    """'médiation numérique' -> 'MediationNumerique' (no '#'); accents go, words are capitalised."""
    label = label.lstrip("#")
    ascii_text = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode()
    words = re.split(r"[^A-Za-z0-9]+", ascii_text)
    if len(words) == 1:
        return words[0]
    return "".join(w[:1].upper() + w[1:] for w in words if w)


def clean_tags(labels) -> list[str]:
    """Distinct non-empty labels, in order, at most 20, duplicates by key removed."""
    seen, result = set(), []
    for label in labels or []:
        label = " ".join(str(label).lstrip("#").split())[:100]
        key = theme_key(label)
        if key and key not in seen:
            seen.add(key)
            result.append(label)
    return result[:20]
