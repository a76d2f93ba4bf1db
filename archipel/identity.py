"""The permanent URL layout of local actors, objects and activities.

These URLs are ActivityPub ids: once published they never change, so the layout lives here,
in one place, and the web routes follow it.
"""

from archipel.ids import new_ulid


def actor_uri(base_url: str, username: str) -> str:
    return f"{base_url.rstrip('/')}/users/{username}"


def object_uri(base_url: str, ulid: str | None = None) -> str:
    return f"{base_url.rstrip('/')}/o/{ulid or new_ulid()}"


def activity_uri(base_url: str, ulid: str | None = None) -> str:
    return f"{base_url.rstrip('/')}/a/{ulid or new_ulid()}"
