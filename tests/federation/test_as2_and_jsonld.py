import copy

from federation.as2 import host_of, id_of, ids_of, same_host, text_value
from federation.jsonld import normalize
from federation.vocabulary import PUBLIC

MASTODON_LIKE = {
    "@context": ["https://www.w3.org/ns/activitystreams", {"sensitive": "as:sensitive", "toot": "http://joinmastodon.org/ns#"}],
    "id": "https://remote.example/users/rosa/statuses/1/activity",
    "type": "Create",
    "actor": "https://remote.example/users/rosa",
    "to": ["https://www.w3.org/ns/activitystreams#Public"],
    "cc": ["https://remote.example/users/rosa/followers"],
    "object": {
        "id": "https://remote.example/users/rosa/statuses/1",
        "type": "Note",
        "attributedTo": "https://remote.example/users/rosa",
        "inReplyTo": "https://ile.example/o/01abc",
        "content": "<p>Bonjour</p>",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "tag": [{"type": "Mention", "href": "https://ile.example/users/alice", "name": "@alice"}],
    },
}


def test_value_shapes_are_read_alike():
    assert id_of("https://a/1") == id_of({"id": "https://a/1"}) == id_of(["https://a/1"]) == "https://a/1"
    assert id_of(["https://a/1", "https://a/2"]) is None
    assert ids_of("https://a/1") == ids_of([{"id": "https://a/1"}]) == ["https://a/1"]
    assert text_value({"content": "x"}, "content") == "x"
    assert text_value({"contentMap": {"fr": ["", "y", "y"]}}, "content") == "y"
    assert text_value({}, "content") == ""


def test_hosts_include_the_port():
    assert host_of("http://127.0.0.1:8001/users/a") == "127.0.0.1:8001"
    assert not same_host("http://127.0.0.1:8001/a", "http://127.0.0.1:8002/a")
    assert same_host("https://Ile.Example/a", "https://ile.example/b")


def test_fast_path_gives_what_pyld_gives_for_plain_as2():
    fast = normalize(copy.deepcopy(MASTODON_LIKE))
    full = normalize(copy.deepcopy(MASTODON_LIKE), full=True)
    for key in ("id", "type", "actor", "object"):
        assert (id_of(fast[key]) if key == "object" else fast[key]) == (id_of(full[key]) if key == "object" else full[key])
    assert ids_of(fast["to"]) == ids_of(full["to"]) == [PUBLIC]
    assert fast["object"]["content"] == full["object"]["content"]
    assert id_of(fast["object"]["inReplyTo"]) == id_of(full["object"]["inReplyTo"])


def test_prefixed_terms_and_unknown_contexts_are_normalised_without_network():
    document = {
        "@context": ["https://www.w3.org/ns/activitystreams", "https://unbundled.example/context.jsonld",
                     {"@language": "fr"}],
        "id": "https://remote.example/likes/1",
        "type": "as:Like",
        "actor": "https://remote.example/users/rosa",
        "object": {"id": "https://ile.example/o/1"},
        "to": "as:Public",
        "unknownTerm": "ignored",
    }
    result = normalize(document)
    assert result["type"] == "Like"
    assert result["actor"] == "https://remote.example/users/rosa"
    assert id_of(result["object"]) == "https://ile.example/o/1"
    assert ids_of(result["to"]) == [PUBLIC]


def test_public_in_any_spelling_becomes_the_full_iri():
    for spelling in ("as:Public", "Public", PUBLIC):
        document = {"@context": "https://www.w3.org/ns/activitystreams", "id": "https://a/1",
                    "type": "Note", "to": [spelling]}
        assert ids_of(normalize(document)["to"]) == ids_of(normalize(document, full=True)["to"]) == [PUBLIC]


def test_only_addressing_is_rewritten_to_the_public_iri():
    document = {"@context": "https://www.w3.org/ns/activitystreams", "id": "https://a/1", "type": "Article",
                "name": "Public", "to": "Public"}
    for full in (False, True):
        result = normalize(dict(document), full=full)
        assert result["name"] == "Public" and result["to"] == PUBLIC
