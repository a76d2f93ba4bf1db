"""The keys the suite's actors get (tests/key_pool.py): real RSA 2048 keys, never one twice."""

import time

from federation.keys import generate_private_key, load_private_key, private_key_pem


def test_every_key_handed_out_is_a_new_rsa_2048_key():
    time.sleep(1)  # let the helper make some, so that keys from both sources are compared
    keys = [generate_private_key() for _ in range(40)]
    numbers = [key.private_numbers() for key in keys]
    assert len({n.public_numbers.n for n in numbers}) == len(keys)
    assert {key.key_size for key in keys} == {2048}
    assert {n.public_numbers.e for n in numbers} == {65537}
    for key, n in zip(keys, numbers):
        assert n.p * n.q == n.public_numbers.n
        assert load_private_key(private_key_pem(key)).private_numbers() == n  # a full load checks it
