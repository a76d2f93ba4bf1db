"""Usernames: one namespace shared by the island, its people and its themes.

Mastodon only resolves lowercase ASCII usernames (`[a-z0-9_]+([.-]+[a-z0-9_]+)*`), so display
names carry the accents and handles never do.
"""

import re
import unicodedata

USERNAME_PATTERN = re.compile(r"^[a-z0-9_]+(?:[.-]+[a-z0-9_]+)*$")
MAX_USERNAME_LENGTH = 64

# Words that are (or may become) route segments or would mislead people if taken as names.
RESERVED_USERNAMES = frozenset(
    """
    about account accounts activity actor actors admin administrator api apps archipel assets
    auth authorize_interaction avatar css dashboard domain explore export favicon feed federated
    espace fiche fiches files follow followers following hashtag help home img import inbox instance
    island js login logout media moderation moderator nodeinfo notifications oauth outbox proposal
    profil profile proposals public relay resource resources root search settings share shared signup static
    suivre support system tag tags theme themes timeline u user users well-known webfinger www
    """.split()
)


class InvalidUsername(ValueError):
    """The username cannot be used; the message says why."""


def slugify_username(text: str) -> str:
    """An ASCII username from a display name: 'Île de Brest' -> 'ile-de-brest'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:MAX_USERNAME_LENGTH].strip("-") or "ile"


def check_username(username: str) -> str:
    """Return the username if it is valid and free of reserved words, else raise InvalidUsername."""
    if not USERNAME_PATTERN.match(username):
        raise InvalidUsername(
            f"invalid username {username!r}: use lowercase letters without accents, digits, "
            "'_', and '.' or '-' between them"
        )
    if len(username) > MAX_USERNAME_LENGTH:
        raise InvalidUsername(f"username {username!r} is longer than {MAX_USERNAME_LENGTH} characters")
    if username in RESERVED_USERNAMES:
        raise InvalidUsername(f"username {username!r} is reserved")
    return username


def theme_slug(label: str) -> str:
    """A readable handle for a theme: 'Transition alimentaire' -> 'transition-alimentaire'."""
    ascii_text = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:MAX_USERNAME_LENGTH].strip("-")
