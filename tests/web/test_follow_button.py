"""The follow box of followable pages, and /suivre, which sends a visitor to their own server."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from tests.flows.test_fiches import publish_file
from tests.remote import RemoteServer

SUBSCRIBE = "http://ostatus.org/schema/1.0/subscribe"


@pytest.fixture
async def island(make_island):
    """Failed look-ups are answered after `remote_lookup_seconds`: short here, to keep tests fast."""
    node = await make_island("brest", remote_lookup_seconds=0.2, remote_lookups_per_hour=1000)
    await node.add_user("alice")
    return node


async def fetch(url: str, **params) -> tuple[int, str, str | None]:
    async with aiohttp.ClientSession() as http, http.get(url, params=params, allow_redirects=False) as response:
        return response.status, await response.text(), response.headers.get("Location")


def host_of(node) -> str:
    return node.url.split("://", 1)[1]


async def test_every_followable_page_shows_the_handle_and_the_follow_form(island):
    await publish_file(island, "papi-brest.md", "alice")
    host = host_of(island)
    for path, handle in (("/", f"@{island.island_username}@{host}"), ("/@alice", f"@alice@{host}"),
                         ("/tags/inclusion", f"@inclusion@{host}"),
                         ("/tags/Inclusion", f"@inclusion@{host}")):
        status, page, _ = await fetch(island.url + path)
        assert status == 200, path
        assert f'<code class="handle" id="follow-handle">{handle}</code>' in page, path
        assert f'data-copy="{handle}"' in page and 'action="' + island.url + '/suivre"' in page, path
        assert f'name="account" value="{handle}"' in page and 'for="follow-from"' in page, path
        assert "/static/follow.js" in page
    status, script, _ = await fetch(f"{island.url}/static/follow.js")
    assert status == 200 and "clipboard" in script
    # The theme actor's own profile URL leads to the theme's page.
    status, _, location = await fetch(f"{island.url}/@inclusion")
    assert status == 302 and location == "/tags/inclusion"


def nodeinfo(server, software: str) -> None:
    server.serve(f"{server.url}/.well-known/nodeinfo", {"links": [
        {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": f"{server.url}/nodeinfo/2.0"}]})
    server.serve(f"{server.url}/nodeinfo/2.0", {"version": "2.0", "software": {"name": software, "version": "1"}})


INSTRUCTIONS = 'id="follow-instructions"'


async def test_an_instance_alone_goes_to_authorize_interaction_only_when_it_has_one(island, remote):
    handle = f"@alice@{host_of(island)}"
    nodeinfo(remote, "mastodon")
    for given in (host_of(remote), f"{remote.url}/", f"@{host_of(remote)}"):
        status, _, location = await fetch(f"{island.url}/suivre", account=handle, **{"from": given})
        assert status == 303, given
        assert location.startswith(f"{remote.url}/authorize_interaction?"), given
        assert parse_qs(urlsplit(location).query) == {"uri": [handle[1:]]}
    # GoToSocial has no /authorize_interaction: no redirect to a page that does not exist, but
    # what to do instead, with the handle to copy.
    nodeinfo(remote, "gotosocial")
    status, page, location = await fetch(f"{island.url}/suivre", account=handle, **{"from": host_of(remote)})
    assert status == 200 and location is None and INSTRUCTIONS in page
    assert "barre de recherche" in page and handle in page
    # A NodeInfo pointing to another host is not believed (that host's word is not this server's).
    other = RemoteServer(host="127.0.0.2")
    nodeinfo(other, "mastodon")
    await other.start()
    try:
        remote.serve(f"{remote.url}/.well-known/nodeinfo", {"links": [
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": f"{other.url}/nodeinfo/2.0"}]})
        status, page, location = await fetch(f"{island.url}/suivre", account=handle, **{"from": host_of(remote)})
        assert status == 200 and location is None and INSTRUCTIONS in page
        assert "/nodeinfo/2.0" not in other.fetches
    finally:
        await other.stop()
    # An instance that does not answer (nothing listens there): the same instructions.
    status, page, location = await fetch(f"{island.url}/suivre", account=handle, **{"from": "127.0.0.1:9"})
    assert status == 200 and location is None and INSTRUCTIONS in page


async def test_a_handle_goes_to_the_subscribe_page_its_server_names(island, remote):
    remote.serve(f"{remote.url}/.well-known/webfinger", {
        "subject": "acct:rosa@x", "links": [
            {"rel": "self", "type": "application/activity+json", "href": remote.actor_uri("rosa")},
            {"rel": SUBSCRIBE, "template": f"{remote.url}/authorize_interaction?uri={{uri}}"}]})
    handle = f"@alice@{host_of(island)}"
    status, _, location = await fetch(f"{island.url}/suivre", account=handle,
                                      **{"from": f"@rosa@{host_of(remote)}"})
    assert status == 303
    assert location.startswith(f"{remote.url}/authorize_interaction?")
    assert parse_qs(urlsplit(location).query) == {"uri": [handle[1:]]}
    assert "/.well-known/webfinger" in remote.fetches


async def test_a_subscribe_template_may_only_send_the_visitor_to_their_own_server(island, remote):
    """A hostile server cannot use our /suivre as a redirect to a third site, nor to a script."""
    handle = f"@alice@{host_of(island)}"
    port = host_of(remote).rsplit(":", 1)[1]
    for template in ("https://evil.example/authorize_interaction?uri={uri}",
                     f"http://127.0.0.2:{port}/authorize_interaction?uri={{uri}}",
                     f"http://evil.example@{host_of(remote)}/x?uri={{uri}}",
                     f"http://{host_of(remote)}@evil.example/x?uri={{uri}}",
                     "javascript:alert(document.cookie)//{uri}", "//evil.example/{uri}",
                     f"http:\\\\evil.example/{{uri}}", f"http://{host_of(remote)}/\t/x?uri={{uri}}",
                     f" http://{host_of(remote)}/x?uri={{uri}}", f"{remote.url}/x?uri={{uri}}&again={{uri}}",
                     f"{remote.url}/no-placeholder", 42):
        remote.serve(f"{remote.url}/.well-known/webfinger", {"subject": "acct:rosa@x", "links": [
            {"rel": SUBSCRIBE, "template": template}]})
        status, page, location = await fetch(f"{island.url}/suivre", account=handle,
                                             **{"from": f"@rosa@{host_of(remote)}"})
        assert status == 200 and location is None and INSTRUCTIONS in page, template


async def test_a_server_without_subscribe_template_gets_instructions(island, remote):
    """GoToSocial-like: WebFinger with only the actor link (see interop.md)."""
    handle = f"@alice@{host_of(island)}"
    remote.serve(f"{remote.url}/.well-known/webfinger", {"subject": f"acct:rosa@{host_of(remote)}", "links": [
        {"rel": "self", "type": "application/activity+json", "href": remote.actor_uri("rosa")},
        {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": f"{remote.url}/@rosa"}]})
    nodeinfo(remote, "gotosocial")
    status, page, location = await fetch(f"{island.url}/suivre", account=handle, **{"from": f"rosa@{host_of(remote)}"})
    assert status == 200 and location is None and INSTRUCTIONS in page
    assert f"Pour suivre {handle}" in page and 'data-copy="' + handle + '"' in page
    async with aiohttp.ClientSession() as http, http.get(
            f"{island.url}/suivre", params={"account": handle, "from": f"rosa@{host_of(remote)}"},
            headers={"Accept-Language": "en"}) as response:
        english = await response.text()
    assert "paste it into your server" in english


async def test_follow_errors_are_explained_in_the_page(island, remote):
    handle = f"@alice@{host_of(island)}"
    status, page, _ = await fetch(f"{island.url}/suivre", account=handle, **{"from": "pas une adresse !"})
    assert status == 400 and 'role="alert"' in page and "mastodon.example" in page
    assert 'value="pas une adresse !"' in page  # what they typed, to correct it
    # A server without a subscribe template.
    remote.serve(f"{remote.url}/.well-known/webfinger", {"subject": "acct:rosa@x", "links": [
        {"rel": "self", "type": "application/activity+json", "href": remote.actor_uri("rosa")}]})
    status, page, _ = await fetch(f"{island.url}/suivre", account=handle, **{"from": f"rosa@{host_of(remote)}"})
    assert status == 200 and INSTRUCTIONS in page
    # A server that does not answer, or does not know them: the same.
    status, page, _ = await fetch(f"{island.url}/suivre", account=handle, **{"from": f"nobody@{host_of(remote)}x"})
    assert status == 200 and INSTRUCTIONS in page
    # Only our own accounts can be followed through us; without input, the form.
    status, _, _ = await fetch(f"{island.url}/suivre", account="@someone@elsewhere.example", **{"from": "m.example"})
    assert status == 404
    status, _, _ = await fetch(f"{island.url}/suivre", account=f"@nobody@{host_of(island)}")
    assert status == 404
    status, page, _ = await fetch(f"{island.url}/suivre", account=handle)
    assert status == 200 and 'name="from"' in page


async def test_private_addresses_are_refused_when_the_island_does_not_allow_them(make_island, remote):
    node = await make_island("strict", allow_private_networks=False)
    remote.serve(f"{remote.url}/.well-known/webfinger", {"subject": "acct:rosa@x", "links": [
        {"rel": SUBSCRIBE, "template": f"{remote.url}/authorize_interaction?uri={{uri}}"}]})
    status, page, _ = await fetch(f"{node.url}/suivre", account=f"@{node.island_username}@{host_of(node)}",
                                  **{"from": f"@rosa@{host_of(remote)}"})
    assert status == 200 and INSTRUCTIONS in page and "/.well-known/webfinger" not in remote.fetches


UNRESOLVABLE = "a" * 64 + ".example"  # no resolver accepts a 64-character label: no query leaves


async def test_what_a_visitor_types_never_makes_suivre_an_open_redirect(island):
    """`from` names the visitor's server; whatever its spelling, /suivre redirects only to a page
    that server itself named (none here), and `account` must be one of ours."""
    handle = f"@alice@{host_of(island)}"
    for given in ("javascript:alert(1)", "//evil.example", "/\\evil.example", "https://evil.example@x/",
                  "data:text/html,<script>", f"//{UNRESOLVABLE}", f"https://{UNRESOLVABLE}/\t",
                  f"{UNRESOLVABLE}\\@127.0.0.1", f"@rosa@{UNRESOLVABLE}/x", f"rosa@{UNRESOLVABLE}",
                  f"\t{UNRESOLVABLE}", f"{UNRESOLVABLE}%2F%2Fevil", f"rosa@{UNRESOLVABLE}#@evil.example",
                  "ｅｖｉｌ.example", "\u202eelpmaxe.live"):
        status, page, location = await fetch(f"{island.url}/suivre", account=handle, **{"from": given})
        assert location is None and status in (200, 400), given
        assert status == 400 or INSTRUCTIONS in page, given
    for account in ("@alice@evil.example", f"@alice@{host_of(island)}/x", f"@alice@{host_of(island)}@evil.example",
                    "javascript:alert(1)", f"@../alice@{host_of(island)}"):
        status, _, location = await fetch(f"{island.url}/suivre", account=account, **{"from": f"rosa@{UNRESOLVABLE}"})
        assert status == 404 and location is None, account
