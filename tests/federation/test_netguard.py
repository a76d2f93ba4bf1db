"""The address check, before any connection: every spelling of a private address is refused."""

import pytest

from federation.client import FetchError
from federation.netguard import BlockedAddress, check_url, is_public_address, literal_address

REFUSED = [
    # loopback, spelled every way a resolver reads it
    "https://127.0.0.1/", "https://2130706433/", "https://0x7f.1/", "https://0x7f000001/",
    "https://017700000001/", "https://0177.0.0.1/", "https://127.1/", "https://127.0.1/",
    "https://[::1]/", "https://[::ffff:127.0.0.1]/", "https://[::ffff:7f00:1]/", "https://[::127.0.0.1]/",
    "https://[0:0:0:0:0:ffff:127.0.0.1]/",
    # private, link-local, unique-local, shared, multicast, reserved, unspecified
    "https://10.0.0.1/", "https://172.16.5.4/", "https://192.168.1.1/", "https://169.254.169.254/",
    "https://[fe80::1]/", "https://[fe80::1%25eth0]/", "https://[fc00::1]/", "https://[fd12:3456::1]/",
    "https://100.64.0.1/", "https://224.0.0.1/", "https://239.255.255.250/", "https://[ff02::1]/",
    "https://240.0.0.1/", "https://255.255.255.255/", "https://0.0.0.0/", "https://0/", "https://[::]/",
    "https://192.0.2.1/",
    # IPv4 hidden in IPv6: 6to4, NAT64, Teredo
    "https://[2002:7f00:1::]/", "https://[2002:a00:1::]/", "https://[64:ff9b::7f00:1]/",
    "https://[64:ff9b::a00:1]/", "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
    # names
    "https://localhost/", "https://LOCALHOST/", "https://localhost./", "https://api.localhost/",
    # userinfo, trailing dots, odd spellings
    "https://good.example@127.0.0.1/", "https://good.example:pw@127.0.0.1/", "https://@good.example/",
    "https://good.example./", "https://good.example../", "https://a..example/", "https://127.0.0.1./",
    "https://127.0.0.1%2e/", "https://１２７.0.0.1/", "https://good.example%2f@127.0.0.1/",
    "https://good.example\\@127.0.0.1/", "https://ex ample.org/",
    # a public address in an odd spelling: the policy's lists would not recognise it
    "https://0x0b.22.33.44/", "https://186786092/",
    # schemes
    "file:///etc/passwd", "gopher://good.example/", "ftp://good.example/", "ws://good.example/",
    "javascript:alert(1)", "//good.example/x", "https:///x", "",
    # plain http needs private networks allowed
    "http://good.example/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_refused_before_any_connection(url):
    with pytest.raises(BlockedAddress):
        check_url(url, allow_private=False)


@pytest.mark.parametrize("url", [
    "https://good.example/users/bob", "https://Good.Example/x", "https://social.example:8443/@bob",
    "https://11.22.33.44/", "https://[2a00:1450:4007:80e::200e]/", "https://xn--caf-dma.example/",
    "https://[64:ff9b::b16:212c]/",  # NAT64 of a public address: DNS64 networks
])
def test_public_urls_pass(url):
    assert check_url(url, allow_private=False) == url


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/users/a", "http://localhost:80/", "http://[::1]:8080/",
                                 "http://127.0.0.2:5/"])
def test_private_networks_allowed_for_tests_and_the_demo(url):
    assert check_url(url, allow_private=True) == url


@pytest.mark.parametrize("url", ["http://0x7f.1/", "http://a@127.0.0.1/", "file:///etc/passwd", "http://x./"])
def test_spelling_and_scheme_rules_hold_even_when_private_networks_are_allowed(url):
    with pytest.raises(BlockedAddress):
        check_url(url, allow_private=True)


def test_a_refusal_is_a_fetch_error():
    """One kind of error for callers: a refused fetch is caught as a failed one."""
    assert issubclass(BlockedAddress, FetchError)


@pytest.mark.parametrize(("spelling", "address"), [
    ("2130706433", "127.0.0.1"), ("0x7f.1", "127.0.0.1"), ("017700000001", "127.0.0.1"), ("127.1", "127.0.0.1"),
    ("[::ffff:7f00:1]", "::ffff:7f00:1"), ("good.example", None), ("deadbeef", None), ("cafe.be", None),
])
def test_literal_addresses_are_read_as_a_resolver_reads_them(spelling, address):
    found = literal_address(spelling)
    assert (str(found) if found else None) == address


@pytest.mark.parametrize("address", ["127.0.0.1", "::ffff:127.0.0.1", "10.1.2.3", "fe80::1%eth0", "::", "nonsense"])
def test_resolved_addresses_that_are_not_public(address):
    assert not is_public_address(address)
