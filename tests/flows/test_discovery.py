"""What other servers and browsers see: WebFinger, NodeInfo, actors, objects, collections."""

from urllib.parse import quote

import aiohttp
import pytest

from federation import signatures

AS2 = {"Accept": "application/activity+json"}
LD = {"Accept": 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'}
HTML = {"Accept": "text/html,application/xhtml+xml"}


async def get(url, headers=None, **kwargs):
    async with aiohttp.ClientSession() as session:
        async with session.get(url, headers=headers or {}, allow_redirects=False, **kwargs) as response:
            body = await response.read()
            return response.status, response.headers, body


async def get_json(url, headers=AS2):
    status, headers_, body = await get(url, headers)
    import json
    return status, headers_, json.loads(body) if body else None


@pytest.mark.parametrize("encoded", [False, True])
async def test_webfinger_round_trips_to_the_actor_id_for_users_and_the_island(island, encoded):
    host = island.settings.host
    for username in ("alice", island.island_username):
        resource = f"acct:{username}@{host}"
        query = resource.replace(":", "%3A").replace("@", "%40") if encoded else resource
        status, headers, body = await get(f"{island.url}/.well-known/webfinger?resource={query}")
        assert status == 200 and headers["Content-Type"].startswith("application/jrd+json")
        import json
        document = json.loads(body)
        assert document["subject"] == resource
        [self_link] = [link for link in document["links"] if link["rel"] == "self"]
        assert self_link["type"] == "application/activity+json"
        status, _, actor = await get_json(self_link["href"])
        assert status == 200 and actor["id"] == self_link["href"]
        assert actor["preferredUsername"] == username


async def test_webfinger_unknown_account_and_missing_resource(island):
    assert (await get(f"{island.url}/.well-known/webfinger?resource=acct:nobody@{island.settings.host}"))[0] == 404
    assert (await get(f"{island.url}/.well-known/webfinger?resource=acct:alice@other.example"))[0] == 404
    assert (await get(f"{island.url}/.well-known/webfinger"))[0] == 400


async def test_nodeinfo_and_host_meta(island):
    status, _, links = await get_json(f"{island.url}/.well-known/nodeinfo", {})
    assert status == 200
    for link in links["links"]:
        status, headers, document = await get_json(link["href"], {})
        assert status == 200 and headers["Content-Type"].startswith("application/json")
        assert document["software"]["name"] == "archipel"
        assert document["protocols"] == ["activitypub"]
        assert document["usage"]["users"]["total"] == 1
    status, headers, body = await get(f"{island.url}/.well-known/host-meta")
    assert status == 200 and b"/.well-known/webfinger?resource={uri}" in body


async def test_actor_documents_have_what_mastodon_requires_and_need_no_signature(island):
    status, headers, actor = await get_json(island.actor_uri("alice"), LD)
    assert status == 200
    assert headers["Content-Type"].startswith("application/activity+json")
    assert "Accept" in headers["Vary"]
    assert actor["@context"][0] == "https://www.w3.org/ns/activitystreams"
    assert actor["type"] == "Person"
    for key in ("inbox", "outbox", "followers", "following", "featured", "url"):
        assert actor[key].startswith(island.url)
    assert actor["endpoints"]["sharedInbox"] == f"{island.url}/inbox"
    assert actor["publicKey"] == {"id": f"{actor['id']}#main-key", "owner": actor["id"],
                                  "publicKeyPem": actor["publicKey"]["publicKeyPem"]}
    assert actor["publicKey"]["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")
    _, _, group = await get_json(island.actor_uri(island.island_username))
    assert group["type"] == "Group"


async def test_objects_negotiate_between_as2_and_html(island):
    uri = await island.publish("alice", "Les PAPI <b>de Brest</b>", "Des **ateliers**.",
                               summary="Cent lieux", tags=["Médiation numérique"])
    status, headers, article = await get_json(uri)
    assert status == 200 and article["id"] == uri and article["type"] == "Article"
    assert article["attributedTo"] == island.actor_uri("alice")
    assert article["to"] == ["https://www.w3.org/ns/activitystreams#Public"]
    assert article["cc"] == [f"{island.actor_uri('alice')}/followers"]
    # No `summary` (a content warning on GoToSocial, snac, Misskey, Pleroma) and no plain `name`
    # (GoToSocial's fallback content warning): the title is in `nameMap`, `content` is the card.
    assert "summary" not in article and "name" not in article
    assert article["nameMap"] == {"fr": "Les PAPI <b>de Brest</b>"}
    card = article["content"]
    assert "<strong>Les PAPI &lt;b&gt;de Brest&lt;/b&gt;</strong>" in card and "Cent lieux" in card
    assert "#MediationNumerique" in card and "/tags/" not in card  # hashtags as text, not links
    assert f'<a href="{uri}">' in card
    assert article["tag"] == [{"type": "Hashtag", "name": "#MediationNumerique",
                               "href": f"{island.url}/tags/mediationnumerique"}]
    assert "Accept" in headers["Vary"]

    status, headers, page = await get(uri, HTML)
    html = page.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert f'<link rel="alternate" type="application/activity+json" href="{uri}">' in html
    assert '<meta property="og:title" content="Les PAPI &lt;b&gt;de Brest&lt;/b&gt;">' in html
    assert "<strong>ateliers</strong>" in html


async def test_activity_urls_serve_as2_and_send_browsers_to_the_item(island):
    uri = await island.publish("alice", "Fiche")
    _, _, outbox = await get_json(island.actor_uri("alice") + "/outbox?page=1")
    create = outbox["orderedItems"][0]
    status, _, activity = await get_json(create["id"])
    assert status == 200 and activity["type"] == "Create" and activity["object"]["id"] == uri
    status, headers, _ = await get(create["id"], HTML)
    assert status == 302 and headers["Location"] == uri


async def test_withdrawn_items_answer_410_with_a_tombstone(island):
    uri = await island.publish("alice", "Fiche")
    await island.withdraw(uri)
    status, _, tombstone = await get_json(uri)
    assert status == 410 and tombstone["type"] == "Tombstone" and tombstone["id"] == uri
    status, _, page = await get(uri, HTML)
    assert status == 410 and "retirée" in page.decode()


async def test_collections_are_paged_with_total_and_first(island):
    uris = [await island.publish("alice", f"Fiche {n}") for n in range(25)]
    await island.withdraw(uris[0])
    outbox = island.actor_uri("alice") + "/outbox"
    status, _, collection = await get_json(outbox)
    assert collection["type"] == "OrderedCollection" and collection["totalItems"] == 24
    _, _, first = await get_json(collection["first"])
    assert first["type"] == "OrderedCollectionPage" and first["partOf"] == outbox
    assert len(first["orderedItems"]) == 20
    assert first["orderedItems"][0]["object"]["id"] == uris[-1]  # newest first
    _, _, second = await get_json(first["next"])
    assert len(second["orderedItems"]) == 4 and "next" not in second
    seen = [a["object"]["id"] for a in first["orderedItems"] + second["orderedItems"]]
    assert sorted(seen) == sorted(uris[1:])
    for name in ("followers", "following"):
        _, _, collection = await get_json(f"{island.actor_uri('alice')}/{name}")
        assert collection["totalItems"] == 0 and collection["first"]


async def test_unknown_paths_and_actors_are_404(island):
    assert (await get(f"{island.url}/users/nobody", AS2))[0] == 404
    assert (await get(f"{island.url}/o/01aaaaaaaaaaaaaaaaaaaaaaaa", AS2))[0] == 404


async def test_trusted_proxy_gives_the_public_scheme_to_signature_checks(make_island, remote):
    """RFC 9421 signs the full target URI: behind a TLS proxy the island must see https."""
    proxied = await make_island("proxied", trusted_proxies=("127.0.0.1",))
    direct = await make_island("direct")
    for node in (proxied, direct):
        await node.add_user("alice")
        inbox = f"{node.url}/users/alice/inbox"
        public_inbox = inbox.replace("http://", "https://")
        # Quoted: the node's name ("Île proxied") has a space, and the inbox answers 400 to an
        # activity id that is not one printable token, even when its signature checks out.
        activity = {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{remote.url}/likes/{quote(node.name)}",
                    "type": "Like", "actor": remote.actor_uri("rosa"), "object": f"{node.url}/o/x"}
        import json
        body = json.dumps(activity).encode()
        headers = signatures.sign_request("POST", public_inbox, f"{remote.actor_uri('rosa')}#main-key",
                                          remote.private_key, body=body, content_type="application/activity+json",
                                          scheme="rfc9421")
        headers.update({"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
        async with remote.session.post(inbox, data=body, headers=headers) as response:
            status = response.status
        assert status == (202 if node is proxied else 401), node.name
