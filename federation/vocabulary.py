"""AS2 constants and the inline @context documents we emit.

Mastodon compares compacted AS2 terms as plain strings and Fedify fetches unknown context URLs
(and rejects the object when that fails, offline), so only the two W3C context URLs appear by
reference and every extension term is declared inline.
"""

AS = "https://www.w3.org/ns/activitystreams"
SECURITY = "https://w3id.org/security/v1"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
PUBLIC_FORMS = frozenset({PUBLIC, "as:Public", "Public"})
ARCHIPEL_NS = "https://archipel.social/ns#"

ACTOR_CONTEXT = [
    AS,
    SECURITY,
    {
        "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
        "toot": "http://joinmastodon.org/ns#",
        "featured": {"@id": "toot:featured", "@type": "@id"},
        "discoverable": "toot:discoverable",
        "indexable": "toot:indexable",
        "schema": "http://schema.org/",
        "PropertyValue": "schema:PropertyValue",
        "value": "schema:value",
    },
]

OBJECT_CONTEXT = [
    AS,
    {
        "Hashtag": "as:Hashtag",
        "sensitive": "as:sensitive",
        "schema": "http://schema.org/",
        "archipel": ARCHIPEL_NS,
    },
]

ACTIVITY_CONTEXT = AS

ACTOR_TYPES = frozenset({"Person", "Service", "Group", "Organization", "Application"})
