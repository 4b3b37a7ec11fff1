"""`liveloop serve --tls-cert --tls-key`: HTTPS with HSTS on every response (errors too), plain HTTP
refused, the CLI still runs through the server, and a bad certificate is one clear line."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from liveloop.core.crypto import generate_key


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "liveloop.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("liveloop.test")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "liveloop.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_serve_over_tls_with_hsts_and_the_cli_bridge(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    env = {**os.environ, "LIVELOOP_HOME": str(tmp_path / "home"), "LIVELOOP_SECRET_KEY": generate_key()}
    admin = _cli(env, "keys", "create", "--role", "admin", "--name", "t", "--json")
    assert admin.returncode == 0, admin.stderr
    api_key = __import__("json").loads(admin.stdout)["key"]
    port = _port()
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - the child's log
    server = subprocess.Popen(
        [sys.executable, "-m", "liveloop.cli.main", "serve", "--port", str(port), "--log-level", "warning",
         "--tls-cert", str(cert), "--tls-key", str(key)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=False, timeout=10) as client:
            for _ in range(300):
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            ok = client.get("/v1/retention", headers={"X-API-Key": api_key})
            assert ok.headers["strict-transport-security"] == "max-age=31536000"
            denied = client.get("/v1/retention")
            assert denied.status_code == 401 and "strict-transport-security" in denied.headers
        try:
            plain = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code
        except httpx.HTTPError:
            plain = None
        assert plain != 200  # no plain HTTP on the TLS port
        status = _cli(env, "status", "--json")  # the warehouse is the server's: this runs through it
        assert status.returncode == 0, status.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    bad = _cli(env, "serve", "--port", str(_port()), "--tls-cert", str(key), "--tls-key", str(key))
    assert (
        bad.returncode != 0
        and "cannot use --tls-cert" in bad.stderr
        and len(bad.stderr.strip().splitlines()) == 1
    )
    half = _cli(env, "serve", "--tls-cert", str(cert))
    assert half.returncode != 0 and "go together" in half.stderr
