"""`archipel publish` of an event (front matter `kind: event`), and the `Event` its followers get,
in the shape Mastodon and Mobilizon read."""

from pathlib import Path

from tests.nodes import bound_socket, wait_for
from tests.processes import ServeProcess, cli

EVENT = (Path(__file__).parent.parent / "data" / "events" / "journee-fabmanagers.md").read_text()


def _free_url() -> str:
    sock = bound_socket()
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


async def test_publish_an_event_from_a_markdown_file_and_its_followers_get_an_event(tmp_path, remote):
    url = _free_url()
    island = tmp_path / "ile"
    cli("init", island, "--url", url, "--name", "Île de Brest", "--allow-private-networks")
    cli("user", "add", island, "alice", "--display-name", "Alice")
    wrong = tmp_path / "a-l-envers.md"
    wrong.write_text(EVENT.replace("end: 2027-03-12T17:00:00+01:00", "end: 2027-03-11T17:00:00+01:00"))
    refused = cli("publish", island, "--as", "alice", wrong, check=False)
    assert refused.returncode != 0 and "ends before it starts" in refused.stderr

    server = await ServeProcess(island, url, tmp_path / "serve.log").start()
    try:
        status, _ = await remote.post(f"{url}/users/alice/inbox", {
            "@context": "https://www.w3.org/ns/activitystreams", "id": f"{remote.url}/follows/1",
            "type": "Follow", "actor": remote.actor_uri("rosa"), "object": f"{url}/users/alice"})
        assert status == 202
        await wait_for(lambda: remote.received_of_type("Accept"), message="Accept")
        path = tmp_path / "journee.md"
        path.write_text(EVENT)
        item_id = cli("publish", island, "--as", "alice", path).stdout.strip()
        [create] = await wait_for(lambda: remote.received_of_type("Create"), message="Create")
        event = create["object"]
        assert event["id"] == item_id and event["type"] == "Event"
        assert event["name"] == "Journée des fabmanagers"  # Mastodon's and Mobilizon's title
        assert (event["startTime"], event["endTime"]) == ("2027-03-12T09:30:00+01:00", "2027-03-12T17:00:00+01:00")
        assert event["timezone"] == "Europe/Paris"
        assert event["location"] == {
            "type": "Place", "name": "Les Capucins, Brest", "latitude": 48.3889, "longitude": -4.5056,
            "address": {"type": "PostalAddress", "addressLocality": "Les Capucins", "addressRegion": "Brest"}}
        assert event["externalParticipationUrl"] == "https://inscriptions.example/fabmanagers"
        assert {"type": "Link", "href": "https://visio.example/fabmanagers", "mediaType": "text/html",
                "name": "Website"} in event["attachment"]
        # Mastodon shows an Event's name, summary and link: the summary says when and where.
        assert event["summary"].startswith("Du 12 mars 2027 à 09:30 au 12 mars 2027 à 17:00 (heure de Paris)")
        assert "Les Capucins" in event["summary"] and "📅" in event["content"]

        path.write_text(EVENT.replace("09:30:00+01:00", "10:00:00+01:00"))
        assert cli("publish", island, "--as", "alice", path, "--update", item_id).stdout.strip() == item_id
        [update] = await wait_for(lambda: remote.received_of_type("Update"), message="Update")
        assert update["object"]["startTime"] == "2027-03-12T10:00:00+01:00"
    finally:
        await server.stop()
