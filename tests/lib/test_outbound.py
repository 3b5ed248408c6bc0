"""The egress policy: every request Greenlight makes reaches only public addresses, unless the
operator's allowlist says otherwise; checked where the socket connects, on every redirect hop.

The suite allows loopback in its settings (its stand-ins listen there); the tests here that
prove the default take that allowance away first.
"""

from __future__ import annotations

import ast
import gzip
import ipaddress
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from lib import outbound
from tests.lib.servers import Answer, Server, serving

NO_ALLOWLIST = override_settings(OUTBOUND_ALLOWED_NETWORKS=[])


@pytest.fixture
def server() -> Iterator[Server]:
    with serving() as running:
        yield running


@pytest.fixture
def other() -> Iterator[Server]:
    """A second origin: same address, another port."""
    with serving() as running:
        yield running


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Names that resolve to the address given, as a hostile or rebinding DNS would answer."""
    names: dict[str, str] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list:
        if host in names:
            return real(names[host], port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "::1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "fd12:3456::1",
        "100.64.0.1",
        "169.254.169.254",
        "169.254.170.2",
        "fd00:ec2::254",
        "100.100.100.200",
        "fe80::1",
        "169.254.1.1",
        "224.0.0.1",
        "ff02::1",
        "0.0.0.0",
        "::",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.10",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::1",
        # Deprecated site-local IPv6: where it is still configured, it is an internal network.
        "fec0::1",
        "fec0:0:0:1::10",
    ],
)
def test_it_refuses_every_address_that_is_not_public_by_default(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert outbound.Policy().refusal(ip, host=address) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "140.82.112.3", "2606:4700::1111"])
def test_it_allows_public_addresses(address: str) -> None:
    assert outbound.Policy().refusal(ipaddress.ip_address(address), host=address) is None


@NO_ALLOWLIST
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/health",
        "http://localhost:{port}/health",
        "http://[::ffff:127.0.0.1]:{port}/health",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5:8080/",
        "http://[::1]:{port}/",
    ],
)
def test_it_refuses_loopback_private_and_metadata_urls_without_the_allowlist(
    server: Server, url: str
) -> None:
    with outbound.Client() as client, pytest.raises(outbound.Refused, match="does not connect"):
        client.request("GET", url.format(port=server.server_address[1]))
    assert server.seen == []


@NO_ALLOWLIST
def test_it_checks_the_address_it_connects_to_not_the_name(
    server: Server, dns: dict[str, str]
) -> None:
    # A public-looking name passes every check made on the URL; its DNS answer is loopback.
    dns["status.example.com"] = "127.0.0.1"
    url = f"http://status.example.com:{server.server_address[1]}/health"
    outbound.check_url(url)
    with outbound.Client() as client, pytest.raises(outbound.Refused, match="loopback"):
        client.request("GET", url)
    assert server.seen == []


@NO_ALLOWLIST
def test_it_refuses_a_redirect_to_a_private_address(dns: dict[str, str]) -> None:
    with serving() as public, override_settings(OUTBOUND_ALLOWED_NETWORKS=["ci.example.com"]):
        dns["ci.example.com"] = "127.0.0.1"
        entry = f"http://ci.example.com:{public.server_address[1]}"
        public.redirect("/meta", "http://169.254.169.254/latest/meta-data/iam/")
        public.redirect("/inside", f"http://127.0.0.1:{public.server_address[1]}/secret")
        with outbound.Client() as client:
            with pytest.raises(outbound.Refused, match="metadata"):
                client.request("GET", entry + "/meta", follow_redirects=True)
            with pytest.raises(outbound.Refused, match="loopback"):
                client.request("GET", entry + "/inside", follow_redirects=True)
        assert [seen.path for seen in public.seen] == ["/meta", "/inside"]


@NO_ALLOWLIST
def test_it_refuses_a_redirect_to_a_name_that_resolves_privately(
    server: Server, dns: dict[str, str]
) -> None:
    dns["entry.example.com"] = "127.0.0.1"
    dns["rebound.example.com"] = "127.0.0.2"
    server.redirect("/go", f"http://rebound.example.com:{server.server_address[1]}/secret")
    with (
        override_settings(OUTBOUND_ALLOWED_NETWORKS=["127.0.0.1/32"]),
        outbound.Client() as client,
        pytest.raises(outbound.Refused),
    ):
        client.request("GET", f"{server.origin}/go", follow_redirects=True)
    assert [seen.path for seen in server.seen] == ["/go"]


def test_it_reaches_what_the_allowlist_names(server: Server, dns: dict[str, str]) -> None:
    dns["jenkins.internal"] = "127.0.0.1"
    port = server.server_address[1]
    for entries, url in [
        (["127.0.0.0/8"], f"http://127.0.0.1:{port}/a"),
        (["jenkins.internal"], f"http://jenkins.internal:{port}/b"),
    ]:
        with override_settings(OUTBOUND_ALLOWED_NETWORKS=entries), outbound.Client() as client:
            assert client.request("GET", url).json() == {"status": "ok"}
    assert [seen.path for seen in server.seen] == ["/a", "/b"]


def test_it_opens_a_metadata_address_only_to_an_entry_naming_it() -> None:
    metadata = ipaddress.ip_address("169.254.169.254")
    broad = outbound.Policy.from_entries(["169.254.0.0/16", "0.0.0.0/0"])
    assert broad.refusal(metadata, host="169.254.169.254") == "a cloud metadata address"
    assert broad.refusal(ipaddress.ip_address("169.254.1.1"), host="x") is None
    exact = outbound.Policy.from_entries(["169.254.169.254/32"])
    assert exact.refusal(metadata, host="169.254.169.254") is None


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "file:///etc/passwd", "gopher://example.com/", "http:///x"]
)
def test_it_calls_only_http_and_https(url: str) -> None:
    with outbound.Client() as client, pytest.raises(outbound.InvalidURL):
        client.request("GET", url)


def test_it_does_not_tell_a_closed_port_from_a_silent_one() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        closed_port = closed.getsockname()[1]
    # Accepts connections (the kernel does) and never answers: what a filtered or slow port
    # looks like from here.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        messages = []
        timeout = outbound.Timeout(0.5)
        for port in (closed_port, silent.getsockname()[1]):
            with (
                outbound.Client(timeout=timeout) as client,
                pytest.raises(outbound.Unreachable) as info,
            ):
                client.request("GET", f"http://127.0.0.1:{port}/")
            messages.append(info.value.message)
    finally:
        silent.close()
    assert messages == ["No answer from 127.0.0.1.", "No answer from 127.0.0.1."]


def test_it_sends_credentials_only_to_the_origin_they_were_given_for(
    server: Server, other: Server
) -> None:
    server.redirect("/same", server.url("/landing"))
    server.redirect("/away", other.url("/landing"))
    headers = {"Authorization": "Bearer s3cret", "PRIVATE-TOKEN": "t0ken"}
    with outbound.Client() as client:
        client.request("GET", server.url("/same"), headers=headers, follow_redirects=True)
        response = client.request(
            "GET", server.url("/away"), headers=headers, follow_redirects=True
        )
    assert server.seen[1].headers["authorization"] == "Bearer s3cret"
    assert "authorization" not in other.seen[0].headers
    assert "private-token" not in other.seen[0].headers
    assert [hop.status_code for hop in response.history] == [302]
    assert str(response.url) == other.url("/landing")


def test_it_follows_a_bounded_number_of_redirects(server: Server) -> None:
    server.redirect("/loop", "/loop")
    with outbound.Client() as client, pytest.raises(outbound.TooManyRedirects):
        client.request("GET", server.url("/loop"), follow_redirects=True)
    assert len(server.seen) == outbound.MAX_REDIRECTS + 1


def test_it_does_not_follow_redirects_unless_asked(server: Server) -> None:
    server.redirect("/moved", "http://169.254.169.254/")
    with outbound.Client() as client:
        response = client.request("GET", server.url("/moved"))
    assert response.status_code == 302
    assert server.answers["/moved"] == Answer(302, b"", {"Location": "http://169.254.169.254/"})


# Libraries that build HTTP clients or open HTTP connections.
HTTP_CLIENTS = {
    "httpx",
    "httpcore",
    "requests",
    "urllib3",
    "aiohttp",
    "pycurl",
    "httplib2",
    "http.client",
    "urllib.request",
}
# The application's code. tests/ builds its own stand-ins and benchmarks/ measures servers it
# starts itself; neither runs inside Greenlight.
APPLICATION = ("config", "lib", "releases", "monitoring", "approvals", "workspace")


def _imports(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def test_it_is_the_only_code_that_builds_an_http_client() -> None:
    root = Path(__file__).resolve().parents[2]
    offenders = []
    for package in APPLICATION:
        for path in sorted((root / package).rglob("*.py")):
            if path == root / "lib" / "outbound.py":
                continue
            for name in _imports(ast.parse(path.read_text(), str(path))):
                if any(name == lib or name.startswith(lib + ".") for lib in HTTP_CLIENTS):
                    offenders.append(f"{path.relative_to(root)} imports {name}")
    assert offenders == []
    # The scan does see what it looks for.
    assert "httpx" in set(_imports(ast.parse((root / "lib" / "outbound.py").read_text())))


def test_it_allows_no_private_network_in_production_unless_told() -> None:
    root = Path(__file__).resolve().parents[2]
    env = {key: value for key, value in os.environ.items() if key != "OUTBOUND_ALLOWED_NETWORKS"}
    env |= {
        "SECRET_KEY": "x" * 50,
        "ALLOWED_HOSTS": "greenlight.example.com",
        "FERNET_KEYS": "unused",
        "EMAIL_URL": "smtp://mail.example.com:25",
    }
    show = "import config.settings_production as s; print(s.OUTBOUND_ALLOWED_NETWORKS)"
    run = [sys.executable, "-c", show]
    default = subprocess.run(run, cwd=root, env=env, capture_output=True, text=True, check=True)
    told = subprocess.run(
        run,
        cwd=root,
        env=env | {"OUTBOUND_ALLOWED_NETWORKS": "10.20.0.0/16,jenkins.internal"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert default.stdout.strip() == "[]"
    assert told.stdout.strip() == "['10.20.0.0/16', 'jenkins.internal']"


def test_it_stops_reading_an_answer_larger_than_any_greenlight_reads(server: Server) -> None:
    # A URL a member typed can answer without end (or with a small gzip that inflates without
    # end): the worker reading it must not run out of memory.
    huge = b"x" * (outbound.MAX_ANSWER_BYTES + 1)
    server.answer("/health", Answer(200, huge, {"Content-Type": "text/plain"}))

    with outbound.Client() as client, pytest.raises(outbound.OutboundError, match="larger"):
        client.request("GET", server.url("/health"))


def test_it_stops_at_the_inflated_size_of_a_compressed_answer(server: Server) -> None:
    bomb = gzip.compress(b"0" * (outbound.MAX_ANSWER_BYTES * 2))
    assert len(bomb) < outbound.MAX_ANSWER_BYTES // 100
    server.answer("/bomb", Answer(200, bomb, {"Content-Encoding": "gzip"}))

    with outbound.Client() as client, pytest.raises(outbound.OutboundError, match="larger"):
        client.request("GET", server.url("/bomb"))


def test_it_reads_an_answer_within_the_limit_whole(server: Server) -> None:
    body = b'{"status": "ok"}' * 1000
    server.answer("/ok", Answer(200, gzip.compress(body), {"Content-Encoding": "gzip"}))

    with outbound.Client() as client:
        response = client.request("GET", server.url("/ok"))

    assert response.content == body
