"""The shapes of the actor documents we serve and send (pure builders)."""

from datetime import datetime, timezone

from archipel.avatars import default_avatar, default_header
from archipel.storage.tables import LocalActor
from federation import documents

BASE = "https://ile.example"


def actor(**fields) -> LocalActor:
    values = dict(username="transition-alimentaire", kind="theme", display_name="Transition alimentaire",
                  summary="", private_key_pem="", public_key_pem="PEM", manually_approves_followers=False,
                  created_at=datetime(2026, 1, 2, tzinfo=timezone.utc), theme_key="transitionalimentaire",
                  avatar=None, header=None, links=[])
    return LocalActor(**{**values, **fields})


def test_a_theme_is_a_group_with_default_pictures_and_its_pins():
    document = documents.actor_document(actor(summary="Les fiches.\n\nDe tout l'archipel."), BASE)
    me = f"{BASE}/users/transition-alimentaire"
    assert document["type"] == "Group" and document["id"] == me
    assert document["preferredUsername"] == "transition-alimentaire"
    assert document["name"] == "Transition alimentaire"
    assert document["summary"] == "<p>Les fiches.</p><p>De tout l&#x27;archipel.</p>"
    assert document["icon"] == {"type": "Image", "url": f"{me}/avatar.png", "mediaType": "image/png"}
    assert document["image"] == {"type": "Image", "url": f"{me}/header.png", "mediaType": "image/png"}
    assert document["featured"] == f"{me}/collections/featured" and document["attachment"] == []
    assert "catalog" not in document and document["endpoints"] == {"sharedInbox": f"{BASE}/inbox"}
    assert documents.actor_document(actor(kind="person", theme_key=None), BASE)["type"] == "Person"
    assert documents.actor_document(actor(kind="island", theme_key=None), BASE)["type"] == "Group"


def test_uploaded_pictures_and_links_as_mastodon_writes_them():
    document = documents.actor_document(actor(
        kind="person", avatar={"url": f"{BASE}/media/01/a.webp", "mediaType": "image/webp", "name": "Portrait"},
        links=[{"name": "Site", "url": 'https://a.example/?q="><script>'}]), BASE)
    assert document["icon"] == {"type": "Image", "url": f"{BASE}/media/01/a.webp", "mediaType": "image/webp",
                                "name": "Portrait"}
    [link] = document["attachment"]
    assert link["type"] == "PropertyValue" and link["name"] == "Site"
    assert "<script>" not in link["value"] and "&quot;&gt;&lt;script&gt;" in link["value"]
    assert 'rel="me nofollow noopener noreferrer"' in link["value"]


def test_a_profile_update_carries_the_whole_actor():
    update = documents.actor_update(actor(), BASE, f"{BASE}/a/1")
    assert update["type"] == "Update" and update["actor"] == update["object"]["id"]
    assert update["to"] == ["https://www.w3.org/ns/activitystreams#Public"]
    assert "@context" not in update["object"] and update["object"]["type"] == "Group"


def test_featured_lists_item_ids():
    collection = documents.featured_collection(f"{BASE}/users/x/collections/featured", 2, ["a", "b"])
    assert collection["type"] == "OrderedCollection" and collection["orderedItems"] == ["a", "b"]
    assert collection["totalItems"] == 2


def test_default_pictures_depend_on_the_handle_only():
    assert default_avatar("a@ile.example") == default_avatar("a@ile.example")
    assert default_avatar("a@ile.example") != default_avatar("b@ile.example")
    assert default_header("a@ile.example")[:8] == b"\x89PNG\r\n\x1a\n"
