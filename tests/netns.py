"""A private network namespace for tests that need "public" addresses.

Outside such a namespace nothing may be sent to an address that is not loopback. Inside one made
for the test (`unshare -n -m`, as root) the test adds the addresses its fake hosts need to `lo`
(11.x.x.x addresses are global for Python's `ipaddress`, unlike the documentation ranges),
bind-mounts a private /etc/hosts for their names, and runs a scenario module in a subprocess
that prints one JSON line of results. Plain HTTP to public addresses is refused when private
networks are not allowed, so the fake hosts speak TLS with a certificate of a throwaway CA that
the subprocess trusts through SSL_CERT_FILE.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parent.parent


def unavailable_reason() -> str | None:
    """Why a network namespace cannot be made here, or None when it can."""
    if not shutil.which("unshare") or not shutil.which("ip"):
        return "unshare or ip is not installed"
    try:
        done = subprocess.run(["unshare", "-n", "-m", "sh", "-c", "ip link set lo up"],
                              capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unshare failed: {error}"
    if done.returncode != 0:
        return f"unshare -n -m is not permitted here: {done.stderr.decode(errors='replace').strip()}"
    return None


def tls_material(folder: Path, names: list[str], addresses: list[str]) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key) for every name and address given."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    alt_names = [x509.DNSName(name) for name in names]
    alt_names += [x509.IPAddress(ipaddress.ip_address(address)) for address in addresses]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


def run_isolated(module: str, folder: Path, *, addresses: list[str], hosts: dict[str, str],
                 config: dict, timeout: float = 120) -> dict:
    """Run `python -m module` in a new network and mount namespace where `addresses` are on
    `lo` and `hosts` (name -> address) is /etc/hosts. The module reads `config` from the file
    named by NETNS_CONFIG and prints its results as one JSON line, returned here."""
    hosts_file = folder / "hosts"
    hosts_file.write_text("127.0.0.1 localhost\n" + "".join(f"{a} {n}\n" for n, a in hosts.items()))
    config_file = folder / "config.json"
    config_file.write_text(json.dumps(config))
    setup = ["ip link set lo up"] + [f"ip addr add {shlex.quote(a)}/32 dev lo" for a in addresses]
    setup.append(f"mount --bind {shlex.quote(str(hosts_file))} /etc/hosts")
    setup.append(f"exec {shlex.quote(sys.executable)} -m {shlex.quote(module)}")
    env = {**os.environ, "NETNS_CONFIG": str(config_file), "PYTHONPATH": str(ROOT),
           "SSL_CERT_FILE": config.get("ca", "")}
    done = subprocess.run(["unshare", "-n", "-m", "sh", "-c", " && ".join(setup)], cwd=ROOT, env=env,
                          capture_output=True, timeout=timeout)
    lines = done.stdout.decode(errors="replace").strip().splitlines()
    if done.returncode != 0 or not lines:
        raise AssertionError(f"isolated run failed ({done.returncode}):\n{done.stderr.decode(errors='replace')}")
    return json.loads(lines[-1])
