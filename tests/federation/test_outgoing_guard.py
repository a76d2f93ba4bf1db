"""Every outgoing request is checked before it leaves, each redirect hop included.

The fake hosts have public addresses inside a private network namespace (tests/netns.py); the
client runs with private networks NOT allowed. Traps listen on loopback, on a private address and
on the refused hosts: a connection there is a failure, whatever the client then says.
"""

import pytest

from tests import hostile_network, netns

pytestmark = pytest.mark.skipif(bool(reason := netns.unavailable_reason()), reason=reason or "")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("netns")
    names = list(hostile_network.PUBLIC)
    ca, cert, key = netns.tls_material(folder, names, ["11.22.33.44", "11.22.33.45", "127.0.0.1", "10.1.2.3"])
    addresses = sorted(set(hostile_network.PUBLIC.values()) - {"127.0.0.1"})
    return netns.run_isolated("tests.hostile_network", folder, addresses=addresses, hosts=hostile_network.PUBLIC,
                              config={"ca": str(ca), "cert": str(cert), "key": str(key)})


REFUSED = [
    "direct-loopback", "direct-blocked",
    "to-loopback", "to-private", "to-name-of-loopback", "to-name-of-private",
    "chain-to-mapped-ipv6", "chain-to-decimal", "short-form", "hex-form", "scheme-relative",
    "userinfo", "trailing-dot",
    "to-blocked", "to-blocked-subdomain", "to-moderated", "to-not-allowed",
    "to-file", "to-gopher", "to-plain-http", "loop",
]


@pytest.mark.parametrize("scenario", REFUSED)
def test_a_refused_hop_is_never_connected_to(run, scenario):
    assert run["results"][scenario]["outcome"] == "refused", run["results"][scenario]
    assert run["traps"][scenario] == {}, f"{scenario} reached {run['traps'][scenario]}"


def test_the_fake_public_hosts_really_answer(run):
    """The control: without it, every refusal above could be a broken setup."""
    for scenario in ("allowed-chain", "signed-allowed-chain"):
        assert run["results"][scenario] == {"outcome": "fetched", "detail": "https://hop.example:8443/note"}
        assert run["traps"][scenario] == {}


def test_a_document_counts_only_for_the_url_that_answered_it(run):
    result = run["results"]["claimed-elsewhere"]
    assert result["outcome"] == "refused"
    assert "claims the id" in result["detail"]


def test_a_delivery_is_never_redirected(run):
    assert run["results"]["post-redirected"] == {"outcome": "answered", "detail": 307}
    assert run["traps"]["post-redirected"] == {}


def test_refusals_say_why(run):
    details = {name: run["results"][name]["detail"] for name in REFUSED}
    assert "private or local" in details["to-loopback"]
    assert "resolves only to private" in details["to-name-of-loopback"]
    assert "not a server this island federates with" in details["to-blocked"]
    assert "not a server this island federates with" in details["to-not-allowed"]
    assert "only http(s)" in details["to-file"]
    assert "redirects" in details["loop"]
