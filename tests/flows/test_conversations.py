"""Conversations under a fiche: replies from a Mastodon-like server shown as a tree (hostile
input included), replies written on the page and federated, moderation of replies.

The remote server (tests/remote.py) signs what it sends and verifies what it receives."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from html.parser import HTMLParser

from sqlalchemy import select

from archipel import accounts, threads
from archipel.storage.tables import Block, ModerationEntry, StoredObject, utcnow
from federation import actions
from federation.vocabulary import PUBLIC
from tests.flows.test_remote_interactions import settled
from tests.nodes import wait_for
from tests.web.test_archipelago_admin import log_in
from tests.web.test_auth import browser_like, hidden_csrf
from web import provision

AS = "https://www.w3.org/ns/activitystreams"


def add_actor(remote, username: str, display_name: str, **fields) -> str:
    uri = remote.add_actor(username, **fields)
    remote.documents[f"/users/{username}"]["name"] = display_name
    return uri


async def publish_fiche(node, username: str = "alice", title: str = "Jardin partagé") -> StoredObject:
    async with node.sessions() as session:
        author = await accounts.get_actor(session, username)
        item = await actions.publish_item(session, node.url, [author], kind="fiche", title=title,
                                          source="Un jardin.", data={"pitch": "Cultiver ensemble"})
        await session.commit()
    node.wake()
    return item


class Speaker:
    """An actor of the remote server who writes in the thread, the way Mastodon does."""

    def __init__(self, island, remote, name: str):
        self.island, self.remote, self.name = island, remote, name
        self.uri = remote.actor_uri(name)
        self.count = 0

    def note(self, in_reply_to: str, content: str, **extra) -> dict:
        self.count += 1
        note_id = f"{self.uri}/statuses/{self.count}"
        return {"id": note_id, "type": "Note", "inReplyTo": in_reply_to, "attributedTo": self.uri,
                "url": f"{self.remote.url}/@{self.name}/{self.count}", "published": "2025-05-14T09:30:12Z",
                "to": [PUBLIC], "cc": [f"{self.uri}/followers"], "content": content, **extra}

    async def send(self, activity: dict, state: str = "processed", name: str | None = None) -> dict:
        activity = {"@context": AS, "actor": self.uri, **activity}
        status, text = await self.remote.post(f"{self.island.url}/inbox", activity, name=name or self.name)
        assert status == 202, text
        row = await settled(self.island, activity["id"])
        assert row.state == state, f"{activity['type']}: {row.state} ({row.last_error})"
        return activity

    async def reply(self, in_reply_to: str, content: str, when: str | None = None) -> str:
        note = self.note(in_reply_to, content, **({"published": when} if when else {}))
        await self.send({"id": f"{note['id']}/activity", "type": "Create", "object": note, "to": note["to"]})
        return note["id"]


class Tags(HTMLParser):
    """Every tag and its attributes, as a browser would parse them."""

    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, list]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, attrs))


async def fetch_page(http, url: str) -> str:
    async with http.get(url) as response:
        assert response.status == 200, await response.text()
        return await response.text()


def reply_ids(html: str) -> list[str]:
    return re.findall(r'<li class="reply" id="reponse-(\d+)"', html)


async def object_id(node, uri: str) -> int:
    return (await node.object(uri)).id


async def test_replies_and_replies_to_replies_render_as_a_tree(island, remote):
    add_actor(remote, "mia", "Mia Lenoir", url=f"{remote.url}/@mia",
              icon={"type": "Image", "url": "https://cdn.example/mia.png"})
    fiche = await publish_fiche(island)
    rosa, mia = Speaker(island, remote, "rosa"), Speaker(island, remote, "mia")
    first = await rosa.reply(fiche.uri, "<p>Première réponse</p>", "2025-05-14T09:00:00Z")
    answer = await mia.reply(first, "<p>Réponse à Rosa</p>", "2025-05-14T10:00:00Z")
    deeper = await rosa.reply(answer, "<p>Et ainsi de suite</p>", "2025-05-14T11:00:00Z")
    second = await mia.reply(fiche.uri, "<p>Deuxième fil</p>", "2025-05-14T09:30:00Z")
    warned = mia.note(fiche.uri, "<p>Le prix des graines</p>", summary="Argent", published="2025-05-14T12:00:00Z")
    await mia.send({"id": f"{warned['id']}/activity", "type": "Create", "object": warned})

    async with browser_like() as http:
        html = await fetch_page(http, fiche.uri)
    ids = [str(await object_id(island, uri)) for uri in (first, answer, deeper, second, warned["id"])]
    assert reply_ids(html) == ids  # depth first, oldest first within a level
    # A content warning (Mastodon's summary) keeps the text folded behind it.
    assert re.search(r'<details class="content-warning"><summary>Avertissement\xa0: Argent</summary>\s*'
                     r'<div class="reply-content"[^>]*><p>Le prix des graines</p></div>\s*</details>', html)
    # Nesting: the answer sits inside the list under the first reply.
    first_block = html[html.index(f'id="reponse-{ids[0]}"'):html.index(f'id="reponse-{ids[3]}"')]
    assert f'id="reponse-{ids[1]}"' in first_block and first_block.count('<ul class="replies') == 2
    assert "5 réponses" in html
    # Author, avatar (no referrer, lazy), link to profile and to the original, machine-readable date.
    assert "Mia Lenoir" in html and f'href="{remote.url}/@mia"' in html
    # The avatar is served by the island (archipel/remote_media.py), never from its server.
    key = hashlib.sha256(b"https://cdn.example/mia.png").hexdigest()
    assert re.search(rf'<img class="avatar" src="{island.url}/images-distantes/{key}"[^>]*loading="lazy"[^>]*'
                     r'referrerpolicy="no-referrer"', html)
    assert "cdn.example" not in html
    assert f'href="{remote.url}/@rosa/1"' in html
    assert '<time datetime="2025-05-14T09:00:00+00:00">' in html


async def test_hostile_replies_are_harmless(island, remote):
    add_actor(remote, "mallory", '<script>alert("name")</script><img src=x onerror=alert(1)>',
              url="javascript:alert('profile')", icon={"type": "Image", "url": "javascript:alert('icon')"})
    fiche = await publish_fiche(island)
    mallory = Speaker(island, remote, "mallory")
    await mallory.reply(fiche.uri, '<p>Bonjour<script>alert("content")</script>'
                        '<img src="https://x.example/a.png" onerror="alert(2)">'
                        '<a href="javascript:alert(3)" onclick="alert(4)">clic</a>'
                        '<iframe src="https://evil.example"></iframe><style>body{display:none}</style></p>')
    async with browser_like() as http:
        html = await fetch_page(http, fiche.uri)
    thread = html[html.index('id="discussion"'):]
    assert "Bonjour" in thread
    tags = Tags()
    tags.feed(thread)
    assert not {"script", "iframe"} & {tag for tag, _ in tags.found}
    for tag, attributes in tags.found:
        for name, value in attributes:
            assert not name.startswith("on"), (tag, name, value)
            assert "javascript:" not in (value or "").lower(), (tag, name, value)
    assert "body{display:none}" not in thread
    assert "&lt;script&gt;alert(&#34;name&#34;)" in thread  # the display name, shown as text


async def test_forged_replies_claiming_another_author_are_not_shown(island, remote):
    remote.add_actor("mia")
    fiche = await publish_fiche(island)
    rosa = Speaker(island, remote, "rosa")
    # Signed by rosa, attributed to mia (same server): refused.
    forged = rosa.note(fiche.uri, "<p>Je suis Mia, vraiment</p>")
    forged["attributedTo"] = remote.actor_uri("mia")
    await rosa.send({"id": f"{forged['id']}/activity", "type": "Create", "object": forged}, state="ignored")
    # Signed by rosa, attributed to alice of the island itself: refused.
    usurped = rosa.note(fiche.uri, "<p>Je suis Alice</p>")
    usurped["attributedTo"] = island.actor_uri("alice")
    await rosa.send({"id": f"{usurped['id']}/activity", "type": "Create", "object": usurped}, state="ignored")
    # An object on another host, claimed by rosa: refused too.
    foreign = rosa.note(fiche.uri, "<p>Un message d'ailleurs</p>")
    foreign["id"] = "https://mastodon.example/users/someone/statuses/1"
    foreign["attributedTo"] = "https://mastodon.example/users/someone"
    await rosa.send({"id": f"{rosa.uri}/forged/3", "type": "Create", "object": foreign}, state="ignored")
    async with browser_like() as http:
        html = await fetch_page(http, fiche.uri)
    for text in ("Je suis Mia", "Je suis Alice", "Un message d'ailleurs"):
        assert text not in html
    assert reply_ids(html) == [] and "0 réponse" in html


async def insert_replies(node, root_uri: str, count: int, *, author: str, nested_every: int = 0) -> list[str]:
    """Many replies at once, as if received (the federation path is tested above)."""
    uris, start = [], utcnow() - timedelta(days=1)
    async with node.sessions() as session:
        for n in range(count):
            parent = uris[n - 1] if nested_every and n % nested_every else root_uri
            uri = f"{author}/statuses/bulk-{n}"
            session.add(StoredObject(uri=uri, url=uri, is_local=False, type="Note", kind="note",
                                     author_uri=author, in_reply_to=parent, content=f"<p>Réponse {n}</p>",
                                     published=start + timedelta(seconds=n)))
            uris.append(uri)
        await session.commit()
    return uris


async def test_a_thousand_replies_are_paginated(island, remote):
    fiche = await publish_fiche(island)
    # 1,000 replies: groups of 4 (one top-level reply, then three replies nested under each other).
    await insert_replies(island, fiche.uri, 1000, author=remote.actor_uri("rosa"), nested_every=4)
    async with browser_like() as http:
        first = await fetch_page(http, fiche.uri)
        second = await fetch_page(http, f"{fiche.uri}?discussion=2")
        last = await fetch_page(http, f"{fiche.uri}?discussion=5")
        beyond = await fetch_page(http, f"{fiche.uri}?discussion=99")
    assert "1\u202f000 réponses" in first
    assert len(reply_ids(first)) == 200  # 50 top-level replies, each with its three nested ones
    assert "Réponse 0<" in first and "Réponse 199<" in first and "Réponse 200<" not in first
    assert "Réponse 200<" in second and "Réponse 399<" in second
    assert '<span aria-current="page">2</span>' in second and 'rel="prev"' in second and 'rel="next"' in second
    assert "Réponse 999<" in last and 'rel="next"' not in last
    assert reply_ids(beyond) == reply_ids(last)


async def test_hidden_and_deleted_replies(island, remote):
    await provision.add_user(island.sessions, username="modo", password="correct horse battery", role="moderator")
    remote.add_actor("mia")
    fiche = await publish_fiche(island)
    rosa, mia = Speaker(island, remote, "rosa"), Speaker(island, remote, "mia")
    rude = await rosa.reply(fiche.uri, "<p>Message grossier</p>", "2025-05-14T09:00:00Z")
    under = await mia.reply(rude, "<p>Réponse sous le message grossier</p>", "2025-05-14T10:00:00Z")
    spam = await mia.reply(fiche.uri, "<p>Pub pour des chaussures</p>", "2025-05-14T11:00:00Z")
    rude_id, spam_id = await object_id(island, rude), await object_id(island, spam)

    async with browser_like() as author_http:  # an author may not moderate
        await log_in(author_http, island, "alice")
        token = hidden_csrf(await fetch_page(author_http, fiche.uri))
        async with author_http.post(f"{island.url}/discussion/{rude_id}/masquer", data={"csrf_token": token},
                                    allow_redirects=False) as response:
            assert response.status == 403
        async with author_http.post(f"{island.url}/discussion/{spam_id}/supprimer", data={"csrf_token": token},
                                    allow_redirects=False) as response:
            assert response.status == 403

    async with browser_like() as http:
        await log_in(http, island, "modo")
        page = await fetch_page(http, fiche.uri)
        token = hidden_csrf(page)
        assert f'action="{island.url}/discussion/{rude_id}/masquer"' in page
        async with http.post(f"{island.url}/discussion/{rude_id}/masquer",
                             data={"csrf_token": token, "reason": "insultes"}, allow_redirects=False) as response:
            assert response.status == 303
            assert response.headers["Location"].endswith(f"#reponse-{rude_id}")
        moderator_view = await fetch_page(http, fiche.uri)
        assert "Message grossier" in moderator_view and "Masqué par la modération" in moderator_view
        assert f'action="{island.url}/discussion/{rude_id}/afficher"' in moderator_view
        confirm = await fetch_page(http, f"{island.url}/discussion/{spam_id}/supprimer")
        assert "Pub pour des chaussures" in confirm and "de cette île seulement" in confirm
        async with http.post(f"{island.url}/discussion/{spam_id}/supprimer",
                             data={"csrf_token": token, "reason": "spam"}, allow_redirects=False) as response:
            assert response.status == 303

    async with browser_like() as public:
        html = await fetch_page(public, fiche.uri)
    assert "Message grossier" not in html and "Pub pour des chaussures" not in html
    # The hidden reply's answer stays in place, under a placeholder.
    assert "Réponse sous le message grossier" in html and "Message supprimé" in html
    assert reply_ids(html) == [str(rude_id), str(await object_id(island, under))]
    assert "1 réponse" in html
    assert (await island.object(spam)).deleted_at is not None
    async with browser_like() as public:  # other servers are not shown hidden replies either
        async with public.get(f"{fiche.uri}/replies?page=1", headers={"Accept": "application/activity+json"}) as response:
            assert (await response.json(content_type=None))["orderedItems"] == []

    # A withdrawn reply is never re-created by a new Create, and a moderator can show a hidden one again.
    async with browser_like() as http:
        await log_in(http, island, "modo")
        token = hidden_csrf(await fetch_page(http, fiche.uri))
        async with http.post(f"{island.url}/discussion/{rude_id}/afficher", data={"csrf_token": token},
                             allow_redirects=False) as response:
            assert response.status == 303
    async with browser_like() as public:
        assert "Message grossier" in await fetch_page(public, fiche.uri)

    async with island.sessions() as session:
        log = [(e.action, e.subject, e.reason) for e in await session.scalars(
            select(ModerationEntry).order_by(ModerationEntry.id))]
    assert log == [("hide_reply", rude, "insultes"), ("delete_reply", spam, "spam"), ("unhide_reply", rude, "")]


async def test_a_reply_from_the_page_reaches_the_remote_participant(island, remote):
    fiche = await publish_fiche(island)
    rosa = Speaker(island, remote, "rosa")
    question = await rosa.reply(fiche.uri, "<p>Comment commencer ?</p>")
    question_id = await object_id(island, question)
    remote.received.clear()

    async with browser_like() as http:
        await log_in(http, island, "alice")
        page = await fetch_page(http, fiche.uri)
        token = hidden_csrf(page)
        assert f'id="reply-text-{question_id}"' in page
        form = {"csrf_token": token, "in_reply_to": str(question_id),
                "text": "Avec une **grelinette** <script>alert(1)</script>"}
        async with http.post(f"{island.url}/discussion/repondre", data=form, allow_redirects=False) as response:
            assert response.status == 303, await response.text()
            assert "#reponse-" in response.headers["Location"]
        too_long = {**form, "text": "x" * (threads.MAX_REPLY_CHARS + 1)}
        async with http.post(f"{island.url}/discussion/repondre", data=too_long, allow_redirects=False) as response:
            assert response.status == 400
        no_csrf = {k: v for k, v in form.items() if k != "csrf_token"}
        async with http.post(f"{island.url}/discussion/repondre", data=no_csrf, allow_redirects=False) as response:
            assert response.status == 403
        html = await fetch_page(http, fiche.uri)

    creates = await wait_for(lambda: [r for r in remote.received if r["activity"]["type"] == "Create"],
                             message="the reply's Create at the remote")
    [create] = creates
    assert create["verified"] is True and create["path"] == "/inbox"
    note = create["activity"]["object"]
    assert note["type"] == "Note" and note["inReplyTo"] == question
    assert note["attributedTo"] == island.actor_uri("alice") and create["activity"]["actor"] == note["attributedTo"]
    assert PUBLIC in note["to"] and rosa.uri in note["cc"]
    assert {"type": "Mention", "href": rosa.uri, "name": f"@rosa@{remote.url.split('//')[1]}"} in note["tag"]
    assert "summary" not in note  # a Note's summary would be a content warning
    assert "<strong>grelinette</strong>" in note["content"] and "<script" not in note["content"]
    assert 'class="u-url mention"' in note["content"]

    # The reply is shown in the thread, under the question, and is served at its id.
    stored = await island.object(note["id"])
    assert stored.is_local and stored.in_reply_to == question
    assert reply_ids(html) == [str(question_id), str(stored.id)]
    async with browser_like() as http:
        async with http.get(note["id"], headers={"Accept": "application/activity+json"}) as response:
            served = await response.json(content_type=None)
        assert served["id"] == note["id"] and served["type"] == "Note" and served["inReplyTo"] == question
        own_page = await fetch_page(http, note["id"])  # and as HTML, inside its conversation
        assert "Une réponse dans la discussion de" in own_page and f'href="{fiche.uri}#reponse-{stored.id}"' in own_page

        # alice takes her reply back: a Delete follows the Create.
        await log_in(http, island, "alice")
        token = hidden_csrf(await fetch_page(http, fiche.uri))
        async with http.post(f"{island.url}/discussion/{stored.id}/supprimer", data={"csrf_token": token},
                             allow_redirects=False) as response:
            assert response.status == 303
    [delete] = await wait_for(lambda: [r for r in remote.received if r["activity"]["type"] == "Delete"],
                              message="the reply's Delete at the remote")
    assert delete["verified"] is True and delete["activity"]["object"]["id"] == note["id"]
    async with island.sessions() as session:  # an author's own withdrawal is not a moderation decision
        assert list(await session.scalars(select(ModerationEntry))) == []


async def test_a_reply_on_a_replica_reaches_its_island(make_island):
    from tests.nodes import island_follows

    brest, nantes = await make_island("brest"), await make_island("nantes")
    await brest.add_user("alice")
    await nantes.add_user("bob")
    await island_follows(nantes, brest)
    fiche = await publish_fiche(brest)
    replica = await wait_for(lambda: nantes.object(fiche.uri), message="the fiche replicated to nantes")

    async with browser_like() as http:
        await log_in(http, nantes, "bob")
        page = await fetch_page(http, f"{nantes.url}/r/{replica.id}")
        form = {"csrf_token": hidden_csrf(page), "in_reply_to": str(replica.id), "text": "Bravo, on essaie à Nantes."}
        async with http.post(f"{nantes.url}/discussion/repondre", data=form, allow_redirects=False) as response:
            assert response.status == 303, await response.text()
            assert response.headers["Location"].startswith(f"/r/{replica.id}#reponse-")

    async def arrived():
        async with brest.sessions() as session:
            return await session.scalar(select(StoredObject).where(StoredObject.in_reply_to == fiche.uri))

    async with browser_like() as http:  # shown on the replica's page at nantes too
        assert "on essaie à Nantes" in await fetch_page(http, f"{nantes.url}/r/{replica.id}")
    reply = await wait_for(arrived, message="bob's reply stored at brest")
    assert reply.author_uri == nantes.actor_uri("bob") and "on essaie à Nantes" in reply.content
    async with browser_like() as http:
        html = await fetch_page(http, fiche.uri)
    assert "on essaie à Nantes" in html and ">Bob<" in html


async def test_a_moderator_deletes_a_local_reply_and_its_servers_hear_of_it(island, remote):
    await provision.add_user(island.sessions, username="modo", password="correct horse battery", role="moderator")
    await island.add_user("bob")
    article = await island.publish("alice", "Un article", "Du texte.")  # articles have conversations too
    rosa = Speaker(island, remote, "rosa")
    question = await rosa.reply(article, "<p>Une question sur l'article</p>")
    async with browser_like() as http:
        await log_in(http, island, "bob")
        form = {"csrf_token": hidden_csrf(await fetch_page(http, article)),
                "in_reply_to": str(await object_id(island, question)), "text": "Une réponse déplacée"}
        async with http.post(f"{island.url}/discussion/repondre", data=form, allow_redirects=False) as response:
            assert response.status == 303
        html = await fetch_page(http, article)
        assert "Une question sur l" in html
        assert "Une réponse déplacée" in html
        [create] = await wait_for(lambda: remote.received_of_type("Create"), message="bob's reply at rosa's server")
    async with island.sessions() as session:
        bobs = await session.scalar(select(StoredObject).where(StoredObject.id == int(reply_ids(html)[-1])))
    assert create["object"]["id"] == bobs.uri

    async with browser_like() as http:
        await log_in(http, island, "bob")  # bob may not delete rosa's reply
        token = hidden_csrf(await fetch_page(http, article))
        async with http.post(f"{island.url}/discussion/{await object_id(island, question)}/supprimer",
                             data={"csrf_token": token}, allow_redirects=False) as response:
            assert response.status == 403
    async with browser_like() as http:
        await log_in(http, island, "modo")
        confirm = await fetch_page(http, f"{island.url}/discussion/{bobs.id}/supprimer")
        assert "ont reçue en seront informés" in confirm
        async with http.post(f"{island.url}/discussion/{bobs.id}/supprimer",
                             data={"csrf_token": hidden_csrf(confirm), "reason": "hors sujet"},
                             allow_redirects=False) as response:
            assert response.status == 303
    [delete] = await wait_for(lambda: [r for r in remote.received if r["activity"]["type"] == "Delete"],
                              message="the Delete of bob's reply at rosa's server")
    assert delete["verified"] is True
    assert delete["activity"]["actor"] == island.actor_uri("bob") and delete["activity"]["object"]["id"] == bobs.uri
    async with browser_like() as http:
        assert "Une réponse déplacée" not in await fetch_page(http, article)
        async with http.get(bobs.uri, headers={"Accept": "application/activity+json"}) as response:
            assert response.status == 410
    async with island.sessions() as session:
        [entry] = list(await session.scalars(select(ModerationEntry)))
    assert (entry.action, entry.subject, entry.reason) == ("delete_reply", bobs.uri, "hors sujet")
    assert entry.details == {"author": island.actor_uri("bob")}


async def test_huge_and_deep_sub_threads_continue_in_their_own_view(island, remote):
    fiche, other = await publish_fiche(island), await publish_fiche(island, title="Autre fiche")
    rosa = remote.actor_uri("rosa")
    [top] = await insert_replies(island, fiche.uri, 1, author=rosa)
    wide = await insert_replies(island, top, 400, author=f"{rosa}/wide")  # 400 answers to one reply
    [deep_top] = await insert_replies(island, fiche.uri, 1, author=f"{rosa}/deep")
    chain = await insert_replies(island, deep_top, 30, author=f"{rosa}/chain", nested_every=10**6)
    [elsewhere] = await insert_replies(island, other.uri, 1, author=f"{rosa}/elsewhere")
    top_id = await object_id(island, top)
    async with browser_like() as http:
        first = await fetch_page(http, fiche.uri)
        assert len(reply_ids(first)) == threads.MAX_ROWS_PER_PAGE
        more = threads.MAX_ROWS_PER_PAGE - 1
        assert f'href="?fil={top_id}#discussion">{400 - more} réponses de plus dans ce fil' in first
        assert "432 réponses" in first

        sub = await fetch_page(http, f"{fiche.uri}?fil={top_id}")
        assert "Revenir à toute la discussion" in sub and "Réponse 0</p></blockquote>" in sub
        assert len(reply_ids(sub)) == threads.TOP_LEVEL_PER_PAGE and "400 réponses" in sub
        assert f'href="?fil={top_id}&amp;discussion=2#discussion"' in sub
        last = await fetch_page(http, f"{fiche.uri}?fil={top_id}&discussion=8")
        assert str(await object_id(island, wide[-1])) in reply_ids(last)

        # The second page of the whole discussion: the chain, drawn 20 levels deep, then a link.
        second = await fetch_page(http, f"{fiche.uri}?discussion=2")
        assert len(reply_ids(second)) == 1 + threads.DRAWN_DEPTH - 1
        deepest = await object_id(island, chain[threads.DRAWN_DEPTH - 2])
        assert f'href="?fil={deepest}#discussion">{30 - threads.DRAWN_DEPTH + 1} réponses de plus' in second
        rest = await fetch_page(http, f"{fiche.uri}?fil={deepest}")
        assert str(await object_id(island, chain[-1])) in reply_ids(rest)

        # A reply of another conversation is never shown as a sub-thread of this one.
        wrong = await fetch_page(http, f"{fiche.uri}?fil={await object_id(island, elsewhere)}")
        assert "Revenir à toute la discussion" not in wrong and reply_ids(wrong) == reply_ids(first)


async def test_replies_of_blocked_or_silenced_accounts_and_domains_stay_off_public_pages(island, remote):
    await provision.add_user(island.sessions, username="modo", password="correct horse battery", role="moderator")
    fiche = await publish_fiche(island)
    kept = await insert_replies(island, fiche.uri, 1, author="https://ok.example/users/ana")
    muted = await insert_replies(island, fiche.uri, 1, author="https://spam.example/users/bot")
    sub = await insert_replies(island, fiche.uri, 1, author="https://a.spam.example/users/bot2")
    account = await insert_replies(island, fiche.uri, 1, author="https://ok.example/users/troll")
    async with island.sessions() as session:
        session.add_all([Block(kind="domain", target="spam.example", severity="silence"),
                         Block(kind="account", target="https://ok.example/users/troll", severity="block")])
        await session.commit()
    async with browser_like() as http:
        html = await fetch_page(http, fiche.uri)
        assert reply_ids(html) == [str(await object_id(island, kept[0]))] and "1 réponse" in html
        await log_in(http, island, "modo")
        seen = await fetch_page(http, fiche.uri)
    assert len(reply_ids(seen)) == 4 and seen.count("Compte ou domaine masqué par l") == 3
    for uri in (*muted, *sub, *account):
        assert f'action="{island.url}/discussion/{await object_id(island, uri)}/masquer"' in seen
