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
        "archipel": ARCHIPEL_NS,
        "catalog": {"@id": "archipel:catalog", "@type": "@id"},
    },
]

# Terms of events, defined exactly as Mobilizon defines them (framasoft/mobilizon
# lib/federation/activity_pub/utils.ex, make_json_ld_header: `sc:` is schema.org with a `#`),
# so that an event means the same to both and theirs compacts to the same words as ours. (The
# place and the address without Mobilizon's type coercion, which applies to strings only: with
# it, compaction would never pick these words for a Place or an address.)
EVENT_TERMS = {
    "sc": "http://schema.org#",
    "mz": "https://joinmobilizon.org/ns#",
    "location": "sc:location",
    "PostalAddress": "sc:PostalAddress",
    "address": "sc:address",
    "addressLocality": "sc:addressLocality",
    "addressRegion": "sc:addressRegion",
    "postalCode": "sc:postalCode",
    "streetAddress": "sc:streetAddress",
    "addressCountry": "sc:addressCountry",
    "inLanguage": "sc:inLanguage",
    "timezone": {"@id": "mz:timezone", "@type": "sc:Text"},
    "isOnline": {"@type": "sc:Boolean", "@id": "mz:isOnline"},
    "joinMode": {"@id": "mz:joinMode", "@type": "mz:joinModeType"},
    "externalParticipationUrl": {"@id": "mz:externalParticipationUrl", "@type": "sc:URL"},
}

# Terms of fiches and resources: schema.org where it has the word, our namespace for the rest.
# `details` is a JSON literal holding every structured field, so another island rebuilds the
# same item whatever other software does with the schema.org terms.
ITEM_TERMS = {
    "Hashtag": "as:Hashtag",
    "sensitive": "as:sensitive",
    "schema": "http://schema.org/",
    "archipel": ARCHIPEL_NS,
    "license": {"@id": "schema:license", "@type": "@id"},
    "isBasedOn": {"@id": "schema:isBasedOn", "@type": "@id"},
    "spatialCoverage": "schema:spatialCoverage",
    "about": "schema:about",
    "educationalLevel": "schema:educationalLevel",
    "timeRequired": "schema:timeRequired",
    "learningResourceType": "schema:learningResourceType",
    "coAuthors": {"@id": "archipel:coAuthors", "@type": "@id", "@container": "@list"},
    "itemKind": "archipel:kind",
    "details": {"@id": "archipel:details", "@type": "@json"},
    **EVENT_TERMS,
}

OBJECT_CONTEXT = [AS, ITEM_TERMS]

ACTIVITY_CONTEXT = AS

ACTOR_TYPES = frozenset({"Person", "Service", "Group", "Organization", "Application"})
