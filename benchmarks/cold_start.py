"""Cold starts as Lambda runs them: each function's first request after a cold start, and a
warm one, modelled per memory size from CPU measured here (not a test: it prints numbers).

Lambda gives an invocation CPU in proportion to memory (one full vCPU at 1,769 MB), while the
init phase (the handler module's import) runs with burst CPU. So, per function and memory::

    cold = init CPU + first-invocation CPU x max(1, 1769 / MB) + AWS round trips x latency
    warm = warm-invocation CPU x max(1, 1769 / MB) + its AWS round trips x latency

The CPU figures are process CPU time (all threads) in a fresh interpreter (-S -s) whose path
holds only lambda_src and the "Lambda-like" package dir of benchmarks.handlers (the layer's
locked packages, boto3, awslambdaric), after ``awslambdaric.bootstrap`` is imported. The
handler talks over TLS to a fake AWS (moto) and a fake OpenAI-compatible provider on
127.0.0.1, with CA bundles as large as Lambda's, so the TLS and SDK CPU is paid for real;
the requests each phase makes are counted by the fake servers and priced at stated latencies.

``--baseline REF`` (default TODAY, the commit before the cold-start changes) measures that
commit's lambda_src the same way, as a column next to the current tree's.

Run: .venv/bin/python -m benchmarks.cold_start [--runs 5] [--warm 5] [--json PATH]
"""

from __future__ import annotations

import argparse
import compileall
import datetime
import io
import ipaddress
import json
import math
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LAMBDA_SRC = ROOT / "lambda_src"

# The commit before the cold-start changes: "today's figures".
TODAY = "8a97278"

# -- the model (pure) ----------------------------------------------------------------------------

FULL_VCPU_MB = 1769  # Lambda: one full vCPU at 1,769 MB, CPU in proportion to memory below
MEMORY_SIZES = (128, 256, 512, 1024, 1769)

# Stated latency of one request, per AWS service (ms), client side, same region.
DEFAULT_LATENCY_MS: dict[str, float] = {
    "dynamodb": 8.0,
    "ssm": 20.0,  # GetParameter WithDecryption (KMS behind it)
    "execute-api": 10.0,  # API Gateway management API: PostToConnection
}

# AWS Lambda list prices, us-east-1 (aws.amazon.com/lambda/pricing): per request, and per
# GB-second of billed duration, which is rounded up to the next 1 ms. Since 1 Aug 2025 the
# INIT phase of managed runtimes is billed too: a cold request bills init + its invocation.
REQUEST_PRICE_USD = 0.20 / 1_000_000
# A function that calls the model waits for its answer, and that wait is billed at the
# function's memory: stated length of one answer at the provider, for the cost of an answer.
ANSWER_S = 5.0
# A memory size below this many times the peak RSS measured is marked as too tight.
RSS_HEADROOM = 1.5
GB_SECOND_PRICE_USD = {"arm64": 0.0000133334, "x86_64": 0.0000166667}


@dataclass(frozen=True)
class Goal:
    function: str
    metric: str  # "cold", "warm" or "first_token", at the function's deployed memory
    limit_ms: float


GOALS = (
    Goal("authorizer", "cold", 250.0),
    Goal("authorizer", "warm", 5.0),
    Goal("login", "cold", 600.0),
    Goal("chat", "first_token", 1000.0),  # the provider excluded (it answers instantly here)
)

Calls = dict[str, float]  # AWS service -> requests


@dataclass(frozen=True)
class Measured:
    """One function's median figures (one source tree): CPU in ms, AWS calls per phase."""

    init_cpu_ms: float
    first_cpu_ms: float
    warm_cpu_ms: float
    init_calls: Calls = field(default_factory=dict)
    first_calls: Calls = field(default_factory=dict)
    warm_calls: Calls = field(default_factory=dict)
    # streamed answers: CPU of the first invocation until the first delta frame is sent, and
    # the AWS calls until then (that frame's post included)
    first_delta_cpu_ms: float | None = None
    to_first_delta_calls: Calls | None = None
    peak_rss_mb: float = 0.0  # the process's, after the warm invocations (the largest run)


def cpu_scale(memory_mb: float) -> float:
    """How much longer CPU work takes at `memory_mb` than on one full vCPU."""
    return max(1.0, FULL_VCPU_MB / memory_mb)


def round_trips_ms(calls: Mapping[str, float], latency_ms: Mapping[str, float]) -> float:
    """The time `calls` wait for AWS (a service without a stated latency is an error)."""
    return sum(count * latency_ms[service] for service, count in calls.items())


def init_ms(m: Measured, latency_ms: Mapping[str, float]) -> float:
    """The init phase: burst CPU (a full core, whatever the memory) plus its round trips."""
    return m.init_cpu_ms + round_trips_ms(m.init_calls, latency_ms)


def first_invocation_ms(m: Measured, memory_mb: float, latency_ms: Mapping[str, float]) -> float:
    return m.first_cpu_ms * cpu_scale(memory_mb) + round_trips_ms(m.first_calls, latency_ms)


def cold_ms(m: Measured, memory_mb: float, latency_ms: Mapping[str, float]) -> float:
    """Modelled latency of the first request after a cold start."""
    return init_ms(m, latency_ms) + first_invocation_ms(m, memory_mb, latency_ms)


def warm_ms(m: Measured, memory_mb: float, latency_ms: Mapping[str, float]) -> float:
    return m.warm_cpu_ms * cpu_scale(memory_mb) + round_trips_ms(m.warm_calls, latency_ms)


def first_token_ms(m: Measured, memory_mb: float, latency_ms: Mapping[str, float]) -> float:
    """Cold time to the first token: to the first delta frame of a streamed answer, else the
    whole (unstreamed) answer."""
    if m.first_delta_cpu_ms is None or m.to_first_delta_calls is None:
        return cold_ms(m, memory_mb, latency_ms)
    return (
        init_ms(m, latency_ms)
        + m.first_delta_cpu_ms * cpu_scale(memory_mb)
        + round_trips_ms(m.to_first_delta_calls, latency_ms)
    )


def billed_ms(duration_ms: float) -> int:
    """Lambda's billed duration: rounded up to the next millisecond (at least 1)."""
    return max(1, math.ceil(round(duration_ms, 6)))


def cost_per_million(duration_ms: float, memory_mb: float, arch: str = "arm64") -> float:
    """USD for a million requests each billed `duration_ms` (for a cold one: init + invoke)."""
    gb_seconds = memory_mb / 1024 * billed_ms(duration_ms) / 1000
    return 1_000_000 * (REQUEST_PRICE_USD + gb_seconds * GB_SECOND_PRICE_USD[arch])


def cold_cost_per_million(
    m: Measured, memory_mb: float, latency_ms: Mapping[str, float], arch: str = "arm64"
) -> float:
    """A million cold requests: the INIT phase is billed with the first invocation."""
    return cost_per_million(cold_ms(m, memory_mb, latency_ms), memory_mb, arch)


def warm_cost_per_million(
    m: Measured, memory_mb: float, latency_ms: Mapping[str, float], arch: str = "arm64"
) -> float:
    return cost_per_million(warm_ms(m, memory_mb, latency_ms), memory_mb, arch)


def answer_cost_per_million(
    m: Measured, memory_mb: float, latency_ms: Mapping[str, float], arch: str = "arm64"
) -> float:
    """A million warm answers of a function that waits ANSWER_S for the model."""
    return cost_per_million(warm_ms(m, memory_mb, latency_ms) + ANSWER_S * 1000, memory_mb, arch)


def too_tight(m: Measured, memory_mb: float) -> bool:
    """Less memory than RSS_HEADROOM times the peak RSS measured."""
    return memory_mb < m.peak_rss_mb * RSS_HEADROOM


def memory_sizes(deployed_mb: int) -> list[int]:
    return sorted({*MEMORY_SIZES, deployed_mb})


@dataclass(frozen=True)
class Recorded:
    """One request a fake server answered: when it arrived (epoch s), to whom, what."""

    at: float
    service: str  # "dynamodb", "ssm", "execute-api", "provider", ...
    operation: str
    body: str = ""
    peer: str = ""  # the client's address: a new one is a new connection (TLS handshake)


@dataclass(frozen=True)
class Window:
    name: str
    start: float  # epoch s (time.time() in the child)
    end: float


def requests_in(requests: Iterable[Recorded], window: Window) -> list[Recorded]:
    return [r for r in requests if window.start <= r.at <= window.end]


def calls_in(
    requests: Iterable[Recorded], window: Window, services: Iterable[str] | None = None
) -> Calls:
    """Requests per service arriving within `window` (only `services`, when given)."""
    wanted = None if services is None else set(services)
    counts: Calls = {}
    for r in requests_in(requests, window):
        if wanted is None or r.service in wanted:
            counts[r.service] = counts.get(r.service, 0) + 1
    return counts


def new_connections(requests: Sequence[Recorded], window: Window) -> int:
    """Connections (client addresses) whose first request falls within `window`: each paid
    a TLS handshake (and, for botocore, a load of its CA bundle)."""
    seen_before = {r.peer for r in requests if r.at < window.start}
    return len({r.peer for r in requests_in(requests, window)} - seen_before)


def median_calls(samples: Sequence[Mapping[str, float]]) -> Calls:
    """Per service, the median count over `samples` (a sample without it counts 0)."""
    services = sorted({service for sample in samples for service in sample})
    medians = {s: float(statistics.median([x.get(s, 0) for x in samples])) for s in services}
    return {service: count for service, count in medians.items() if count}


@dataclass(frozen=True)
class GoalResult:
    goal: Goal
    value_ms: float
    met: bool


def check_goals(
    figures: Mapping[tuple[str, str], float], goals: Iterable[Goal] = GOALS
) -> list[GoalResult]:
    """Each goal against `figures[(function, metric)]` (ms, at the deployed memory)."""
    results = []
    for goal in goals:
        value = figures[(goal.function, goal.metric)]
        results.append(GoalResult(goal, value, value <= goal.limit_ms))
    return results


# -- fake AWS and provider over TLS ----------------------------------------------------------


@dataclass(frozen=True)
class Certs:
    ca: Path
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


def make_certs(directory: Path) -> Certs:
    """A throwaway CA and a server certificate for 127.0.0.1 it signed (RSA 2048, as AWS's)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cold-start bench CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    certs = Certs(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    certs.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    certs.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    certs.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return certs


def bundle_with(base: Path, ca: Path, into: Path) -> Path:
    """`base` (a real CA bundle) with our CA appended: loading it costs what the real one does."""
    into.write_bytes(base.read_bytes().rstrip(b"\n") + b"\n" + ca.read_bytes())
    return into


def botocore_bundle(like: Path) -> Path:
    """The bundle botocore uses in `like` (get_cert_path(True): certifi's, else its own)."""
    for candidate in (like / "certifi" / "cacert.pem", like / "botocore" / "cacert.pem"):
        if candidate.is_file():
            return candidate
    import certifi

    return Path(certifi.where())


def system_bundle() -> Path:
    for candidate in (
        ssl.get_default_verify_paths().openssl_cafile,
        "/etc/ssl/certs/ca-certificates.crt",
    ):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise RuntimeError("no system CA bundle found")


class Recorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[Recorded] = []

    def add(self, request: Recorded) -> None:
        with self._lock:
            self._requests.append(request)

    def snapshot(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)


SOCKET_STAGE = "live"  # the stream event's stage: the management API is at /<stage>


def service_of(target: str, authorization: str, path: str) -> tuple[str, str]:
    """(service, operation) of an AWS request: from X-Amz-Target (JSON protocols) or the
    SigV4 credential scope and the path."""
    if target:
        prefix, _, operation = target.partition(".")
        if prefix.startswith("DynamoDB"):
            return "dynamodb", operation
        if prefix.startswith("AmazonSSM"):
            return "ssm", operation
        return prefix.lower(), operation
    scope = authorization.split("Credential=", 1)[-1].split(",", 1)[0].split("/")
    return (scope[3] if len(scope) > 3 else "unknown"), path


Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]


def recording_app(app: WsgiApp, recorder: Recorder) -> WsgiApp:
    """Records each request; answers API Gateway's management API posts itself (200)."""
    connections = f"/{SOCKET_STAGE}/@connections/"

    def wrapper(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        at = time.time()
        peer = f"{environ.get('REMOTE_ADDR')}:{environ.get('REMOTE_PORT')}"
        path = str(environ.get("PATH_INFO", ""))
        if environ.get("REQUEST_METHOD") == "POST" and path.startswith(connections):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length).decode("utf-8", "replace")
            recorder.add(Recorded(at, "execute-api", "PostToConnection", body, peer))
            start_response(
                "200 OK", [("Content-Type", "application/json"), ("Content-Length", "0")]
            )
            return [b""]
        service, operation = service_of(
            str(environ.get("HTTP_X_AMZ_TARGET", "")),
            str(environ.get("HTTP_AUTHORIZATION", "")),
            path,
        )
        recorder.add(Recorded(at, service, operation, peer=peer))
        return app(environ, start_response)

    return wrapper


class WsgiKeepAlive(BaseHTTPRequestHandler):
    """Serves a WSGI app over HTTP/1.1 with keep-alive connections, as AWS does.

    Not werkzeug's server: it closes every connection after its response (and drains the
    socket, which would swallow the next request of a kept-alive one), so each request
    would cost the client a TLS handshake and botocore a CA bundle load, unlike on AWS."""

    protocol_version = "HTTP/1.1"
    app: WsgiApp

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        server_address: Any = self.server.server_address
        environ: Environ = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": urllib.parse.unquote(path, "latin-1"),
            "QUERY_STRING": query,
            "RAW_URI": self.path,
            "REQUEST_URI": self.path,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": str(server_address[1]),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_PORT": self.client_address[1],
            "CONTENT_LENGTH": str(length),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "https",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for key, value in self.headers.items():
            name = key.upper().replace("-", "_")
            if name == "CONTENT_TYPE":
                environ[name] = value
            elif name != "CONTENT_LENGTH":
                environ[f"HTTP_{name}"] = value
        answer: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
            answer[:] = [status, headers]

        chunks = self.app(environ, start_response)
        try:
            data = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        status, headers = answer
        code, _, reason = str(status).partition(" ")
        self.send_response(int(code), reason)
        for key, value in headers:
            if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _serve


@contextmanager
def fake_aws(certs: Certs, recorder: Recorder) -> Iterator[str]:
    """moto's server app (built as ThreadedMotoServer builds it) over TLS on 127.0.0.1,
    connections kept alive: its URL."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    class Handler(WsgiKeepAlive):
        app = staticmethod(recording_app(DomainDispatcherApplication(create_backend_app), recorder))

    with serving_tls(Handler, certs) as port:
        yield f"https://127.0.0.1:{port}"


@contextmanager
def serving_tls(handler: type[BaseHTTPRequestHandler], certs: Certs) -> Iterator[int]:
    """`handler` served over TLS on 127.0.0.1 in a thread: its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True  # kept-alive connections: never waited for
    server.block_on_close = False
    # The handshake happens at the first read, in the connection's thread, not in accept().
    server.socket = certs.server_context().wrap_socket(
        server.socket, server_side=True, do_handshake_on_connect=False
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@contextmanager
def fake_provider(certs: Certs, recorder: Recorder) -> Iterator[str]:
    """tests.support.fake_openai's server (plain and streamed answers, instantly) over TLS."""
    from tests.support import fake_openai

    fake = fake_openai.FakeOpenAI()

    class Handler(fake_openai._Handler):
        owner = fake

        def do_POST(self) -> None:
            peer = ":".join(str(part) for part in self.client_address[:2])
            recorder.add(Recorded(time.time(), "provider", self.path, peer=peer))
            super().do_POST()

    with serving_tls(Handler, certs) as port:
        yield f"https://127.0.0.1:{port}/v1"


# -- the data and the events -------------------------------------------------------------------

REGION = "us-east-1"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SESSION_TOKEN": "bench",
}
STACK = "bench"
USERNAME = "bench-user"
PASSWORD = "bench-password-1"  # a throwaway user in the fake AWS
API_ID = "benchapi01"
SOURCE_IP = "203.0.113.7"


@dataclass(frozen=True)
class Setup:
    """What the parent made in the fake AWS, for the events."""

    tokens: dict[str, str]  # function kind -> its own token (logout revokes its own)
    identities: dict[str, dict[str, Any]]  # the authorizer's context of each token


def create_data(endpoint: str, bundle: Path, kinds: Iterable[str]) -> Setup:
    """The tables, the two SecureString parameters and one user, as `local` makes them."""
    import boto3

    from chatbot_deploy.local import emulator
    from chatbot_deploy.names import StackNames
    from chatbot_lambda import tokens

    names = StackNames(STACK)
    options: dict[str, Any] = {
        "endpoint_url": endpoint,
        "region_name": REGION,
        "verify": str(bundle),
        "aws_access_key_id": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "aws_session_token": FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
    }
    ssm = boto3.client("ssm", **options)
    data = emulator.create_resources(boto3.client("dynamodb", **options), ssm, names, "sk-bench")
    data.add_user(emulator.LocalUser(USERNAME, PASSWORD))
    stored = ssm.get_parameter(Name=names.jwt_secret_param, WithDecryption=True)
    secret = str(stored["Parameter"]["Value"])  # the emulator's random one: to sign tokens
    issued: dict[str, str] = {}
    identities: dict[str, dict[str, Any]] = {}
    for kind in kinds:
        token = tokens.issue(USERNAME, secret, names.token_issuer, 3600)
        verified = tokens.verify(token.token, secret, names.token_issuer)
        issued[kind] = token.token
        identities[kind] = {
            "username": verified.username,
            "expires_at": verified.expires_at,
            "issued_at": verified.issued_at,
        }
    return Setup(issued, identities)


def _http(
    kind: str,
    setup: Setup,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    authorized: bool = True,
) -> dict[str, Any]:
    from chatbot_deploy.local import events

    headers = {"content-type": "application/json"} if body is not None else {}
    if authorized:
        headers["authorization"] = f"Bearer {setup.tokens[kind]}"
    return events.http_event(
        method=method,
        path=path,
        query="",
        headers=headers,
        body=json.dumps(body).encode() if body is not None else b"",
        route_key=f"{method} {path}",
        source_ip=SOURCE_IP,
        api_id=API_ID,
        authorizer_context=dict(setup.identities[kind]) if authorized else None,
    )


def build_event(kind: str, setup: Setup, socket_domain: str) -> tuple[dict[str, Any], str]:
    """(the event API Gateway sends `kind`'s function, what a good answer is)."""
    from chatbot_deploy.local import events
    from chatbot_lambda import sessions

    if kind == "authorizer":
        header = f"Bearer {setup.tokens[kind]}"
        event = events.authorizer_event(
            method="POST",
            path="/chat",
            query="",
            headers={"authorization": header},
            route_key="POST /chat",
            identity=[header],
            source_ip=SOURCE_IP,
            api_id=API_ID,
        )
        return event, "authorized"
    if kind == "login":
        login = {"username": USERNAME, "password": PASSWORD}
        return _http(kind, setup, "POST", "/login", login, authorized=False), "status200"
    if kind == "chat":
        chat = {"messages": [{"role": "user", "content": "hello"}]}
        return _http(kind, setup, "POST", "/chat", chat), "status200"
    if kind == "conversations":
        return _http(kind, setup, "GET", "/conversations", None), "status200"
    if kind == "logout":
        return _http(kind, setup, "POST", "/logout", {}), "status200"
    if kind == "stream":
        token = setup.tokens[kind]
        # a WebSocket API hands a policy authorizer's context values on as strings
        authorizer: dict[str, Any] = {
            key: str(value) for key, value in setup.identities[kind].items()
        }
        authorizer |= {
            "token_hash": sessions.token_hash(token),
            "principalId": USERNAME,
            "integrationLatency": 0,
        }
        context = events.socket_request_context(
            route_key="$default",
            event_type="MESSAGE",
            connection_id=events.new_connection_id(),
            connected_at=int(time.time() * 1000),
            domain_name=socket_domain,
            stage=SOCKET_STAGE,
            api_id=API_ID,
            source_ip=SOURCE_IP,
            authorizer=authorizer,
        )
        message = json.dumps({"action": "send", "request": "r1", "content": "hello"})
        return events.socket_message_event(body=message, request_context=context), "stream_done"
    raise SystemExit(f"no benchmark event for function {kind!r}: add one to build_event")


# -- the child: one cold start ---------------------------------------------------------------

CHILD = r"""
import sys, time
sys.path[:0] = {paths!r}
import awslambdaric.bootstrap  # the runtime's own bootstrap: not counted
import importlib, json
with open(sys.argv[1]) as f:
    spec = json.load(f)
event_text = json.dumps(spec["event"])


class Context:
    def __init__(self):
        self.function_name = spec["function_name"]
        self.memory_limit_in_mb = spec["memory_mb"]
        self.aws_request_id = "bench"
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:0:function:" + self.function_name
        self._deadline = time.monotonic() + spec["timeout_s"]

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


module_name, _, attribute = spec["handler"].rpartition(".")
w0, c0 = time.time(), time.process_time()
handler = getattr(importlib.import_module(module_name), attribute)
c1, w1 = time.process_time(), time.time()
out = {{"init": {{"cpu_ms": (c1 - c0) * 1000, "start": w0, "end": w1}}}}

frames = []
first_delta = []
connections = sys.modules.get("chatbot_lambda.connections")
if connections is not None:
    original = connections.send

    def send(event, connection_id, data, _original=original):
        typed = data.startswith(b'{{"type":"')
        kind = bytes(data[9 : data.index(b'"', 9)]).decode() if typed else "?"
        frames.append(kind)
        if kind == "delta" and not first_delta:
            first_delta.append(time.process_time())
            _original(event, connection_id, data)
            first_delta.append(time.time())
            return
        _original(event, connection_id, data)

    connections.send = send


def check(result):
    expect = spec["expect"]
    if expect == "authorized":
        ok = isinstance(result, dict) and result.get("isAuthorized") is True
    else:
        ok = isinstance(result, dict) and result.get("statusCode") == 200
    if ok and expect == "stream_done":
        ok = frames.count("done") == 1 and "error" not in frames and "delta" in frames
    if not ok:
        sys.stderr.write("BAD ANSWER %s: %r frames=%r\n" % (spec["function_name"], result, frames))
        sys.exit(3)


def invoke():
    event = json.loads(event_text)
    context = Context()
    frames.clear()
    first_delta.clear()
    w, c = time.time(), time.process_time()
    result = handler(event, context)
    c2, w2 = time.process_time(), time.time()
    check(result)
    phase = {{"cpu_ms": (c2 - c) * 1000, "start": w, "end": w2, "frames": list(frames)}}
    if first_delta:
        phase["delta_cpu_ms"] = (first_delta[0] - c) * 1000
        phase["delta_end"] = first_delta[1]
    return phase


out["first"] = invoke()
out["warm"] = [invoke() for _ in range(spec["warm"])]
# This process's peak RSS (VmHWM: getrusage's ru_maxrss keeps the forking parent's across exec)
with open("/proc/self/status") as f:
    hwm = [line.split()[1] for line in f if line.startswith("VmHWM:")]
out["peak_rss_mb"] = int(hwm[0]) / 1024 if hwm else 0.0  # kB
print("COLDSTART " + json.dumps(out), flush=True)
"""


@dataclass(frozen=True)
class Variant:
    name: str  # "today" or "now"
    src: Path  # its lambda_src


@dataclass
class Run:
    """One cold start in a fresh child: CPU (ms) per phase and the calls the servers saw."""

    init_cpu_ms: float
    first_cpu_ms: float
    warm_cpu_ms: float  # median over the warm invocations
    init_calls: Calls
    first_calls: Calls
    warm_calls: Calls  # median per service over the warm invocations
    provider: dict[str, float]  # provider requests: first, warm (median)
    first_delta_cpu_ms: float | None = None
    to_first_delta_calls: Calls | None = None
    connections: dict[str, float] = field(default_factory=dict)  # new ones: init, first, warm
    init_wall_ms: float = 0.0
    first_wall_ms: float = 0.0
    peak_rss_mb: float = 0.0


AWS_SERVICES = tuple(DEFAULT_LATENCY_MS)


def lambda_environment(
    kind: str, endpoint: str, provider_url: str, aws_bundle: Path, ssl_bundle: Path, home: Path
) -> dict[str, str]:
    from chatbot_deploy import app_spec
    from chatbot_deploy.names import StackNames

    spec = app_spec.FUNCTIONS[kind]
    names = StackNames(STACK)
    config = app_spec.AppConfig(openai_base_url=provider_url)
    function_name = names.function(kind)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "HOME": str(home),  # no ~/.aws of this machine
        "AWS_CONFIG_FILE": str(home / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
        "_HANDLER": spec.handler,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        **FAKE_CREDENTIALS,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_CA_BUNDLE": str(aws_bundle),
        "SSL_CERT_FILE": str(ssl_bundle),
        **app_spec.function_environment(kind, names, config),
    }


def run_child(
    kind: str,
    variant: Variant,
    like: Path,
    event: dict[str, Any],
    expect: str,
    env: Mapping[str, str],
    warm: int,
    recorder: Recorder,
    scratch: Path,
) -> Run:
    from chatbot_deploy import app_spec

    spec = app_spec.FUNCTIONS[kind]
    spec_file = scratch / f"{kind}-{variant.name}.json"
    spec_file.write_text(
        json.dumps(
            {
                "handler": spec.handler,
                "event": event,
                "expect": expect,
                "warm": warm,
                "timeout_s": spec.timeout_s,
                "memory_mb": spec.memory_mb,
                "function_name": env["AWS_LAMBDA_FUNCTION_NAME"],
            }
        )
    )
    snippet = CHILD.format(paths=[str(variant.src), str(like)])
    proc = subprocess.run(
        [sys.executable, "-S", "-s", "-c", snippet, str(spec_file)],
        capture_output=True,
        text=True,
        env=dict(env),
        cwd=scratch,
        timeout=300,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("COLDSTART ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(
            f"{kind} ({variant.name}) failed, exit {proc.returncode}:\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        )
    out = json.loads(lines[-1].removeprefix("COLDSTART "))
    requests = recorder.snapshot()

    def window(name: str, phase: Mapping[str, Any], end_key: str = "end") -> Window:
        return Window(name, float(phase["start"]), float(phase[end_key]))

    init_w = window("init", out["init"])
    first_w = window("first", out["first"])
    warm_ws = [window(f"warm{i}", phase) for i, phase in enumerate(out["warm"])]
    if expect == "stream_done":
        posted = [json.loads(r.body) for r in requests_in(requests, first_w) if r.body]
        kinds = [post.get("type") for post in posted]
        if "delta" not in kinds or "done" not in kinds:
            raise RuntimeError(f"stream ({variant.name}): the management API got {kinds}")
    delta_cpu = out["first"].get("delta_cpu_ms")
    to_delta: Calls | None = None
    if delta_cpu is not None:
        to_delta = calls_in(
            requests,
            Window("to-delta", init_w.start, float(out["first"]["delta_end"])),
            AWS_SERVICES,
        )
        for service, count in calls_in(requests, init_w, AWS_SERVICES).items():
            to_delta[service] -= count  # init's calls are counted with init
        to_delta = {s: c for s, c in to_delta.items() if c}
    warm_cpu = [float(phase["cpu_ms"]) for phase in out["warm"]]
    return Run(
        init_cpu_ms=float(out["init"]["cpu_ms"]),
        first_cpu_ms=float(out["first"]["cpu_ms"]),
        warm_cpu_ms=statistics.median(warm_cpu) if warm_cpu else 0.0,
        init_calls=calls_in(requests, init_w, AWS_SERVICES),
        first_calls=calls_in(requests, first_w, AWS_SERVICES),
        warm_calls=median_calls([calls_in(requests, w, AWS_SERVICES) for w in warm_ws]),
        provider={
            "init": calls_in(requests, init_w, ["provider"]).get("provider", 0),
            "first": calls_in(requests, first_w, ["provider"]).get("provider", 0),
            "warm": median_calls([calls_in(requests, w, ["provider"]) for w in warm_ws]).get(
                "provider", 0
            ),
        },
        first_delta_cpu_ms=None if delta_cpu is None else float(delta_cpu),
        to_first_delta_calls=to_delta,
        connections={
            "init": new_connections(requests, init_w),
            "first": new_connections(requests, first_w),
            "warm": statistics.median([new_connections(requests, w) for w in warm_ws] or [0]),
        },
        init_wall_ms=(init_w.end - init_w.start) * 1000,
        first_wall_ms=(first_w.end - first_w.start) * 1000,
        peak_rss_mb=float(out["peak_rss_mb"]),
    )


def summarize(runs: Sequence[Run]) -> Measured:
    deltas = [r.first_delta_cpu_ms for r in runs if r.first_delta_cpu_ms is not None]
    to_delta = [r.to_first_delta_calls for r in runs if r.to_first_delta_calls is not None]
    return Measured(
        init_cpu_ms=statistics.median(r.init_cpu_ms for r in runs),
        first_cpu_ms=statistics.median(r.first_cpu_ms for r in runs),
        warm_cpu_ms=statistics.median(r.warm_cpu_ms for r in runs),
        init_calls=median_calls([r.init_calls for r in runs]),
        first_calls=median_calls([r.first_calls for r in runs]),
        warm_calls=median_calls([r.warm_calls for r in runs]),
        first_delta_cpu_ms=statistics.median(deltas) if deltas else None,
        to_first_delta_calls=median_calls(to_delta) if to_delta else None,
        peak_rss_mb=max(r.peak_rss_mb for r in runs),
    )


def extract_baseline(ref: str, into: Path) -> tuple[Path | None, str]:
    """`ref`'s lambda_src (git archive), or None and why not."""
    try:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", ref, "lambda_src"],
            capture_output=True,
            check=False,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"git unavailable ({exc})"
    if archive.returncode != 0:
        return None, archive.stderr.decode(errors="replace").strip().splitlines()[-1:][0]
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into / "lambda_src", ""


# -- the report ----------------------------------------------------------------------------------


def fmt_calls(calls: Mapping[str, float] | None) -> str:
    if not calls:
        return "none"
    return ", ".join(f"{service} {count:g}" for service, count in sorted(calls.items()))


def fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def parse_latency(items: Sequence[str]) -> dict[str, float]:
    latency = dict(DEFAULT_LATENCY_MS)
    for item in items:
        service, _, ms = item.partition("=")
        if service not in latency or not ms:
            raise SystemExit(f"--latency {item!r}: use SERVICE=MS, SERVICE one of {list(latency)}")
        latency[service] = float(ms)
    return latency


def print_phase_medians(label: str, counts: Sequence[Mapping[str, float]]) -> None:
    """One line: the median over the runs of a count per phase (init, first, warm)."""
    medians = (
        f"{phase} {statistics.median(c[phase] for c in counts):g}"
        for phase in ("init", "first", "warm")
    )
    print(f"  {label}: " + ", ".join(medians))


def report(
    measured: Mapping[str, Mapping[str, Measured]],
    runs: Mapping[str, Mapping[str, list[Run]]],
    latency: Mapping[str, float],
    arch: str,
) -> dict[str, Any]:
    """Print the per-function tables and the goals; the figures for --json."""
    from chatbot_deploy import app_spec

    has_today = "today" in measured
    doc: dict[str, Any] = {"functions": {}}
    goal_figures: dict[tuple[str, str], float] = {}
    today_figures: dict[tuple[str, str], float] = {}
    for kind, spec in app_spec.FUNCTIONS.items():
        now = measured["now"][kind]
        today = measured["today"][kind] if has_today else None
        print(f"\n{kind}  ({spec.handler}, deployed {spec.memory_mb} MB)")
        print(f"  measured CPU, median of {len(runs['now'][kind])}   {'today':>10}  {'now':>10}")
        rows: list[tuple[str, float | None, float | None]] = [
            ("init (full core)", today.init_cpu_ms if today else None, now.init_cpu_ms),
            ("first invocation", today.first_cpu_ms if today else None, now.first_cpu_ms),
        ]
        if now.first_delta_cpu_ms is not None:
            rows.append(
                (
                    "first inv. to 1st delta",
                    today.first_delta_cpu_ms if today else None,
                    now.first_delta_cpu_ms,
                )
            )
        rows.append(("warm invocation", today.warm_cpu_ms if today else None, now.warm_cpu_ms))
        for label, before, after in rows:
            print(f"    {label:<26} {fmt_ms(before):>10}  {fmt_ms(after):>10}")
        print("  AWS calls per phase (today -> now)")
        phases: list[tuple[str, str]] = [
            ("init", "init_calls"),
            ("first invocation", "first_calls"),
            ("warm invocation", "warm_calls"),
        ]
        if now.to_first_delta_calls is not None:
            phases.insert(2, ("first inv. to 1st delta", "to_first_delta_calls"))
        for label, attribute in phases:
            before_calls = getattr(today, attribute) if today else None
            after_calls = getattr(now, attribute)
            before_text = fmt_calls(before_calls) if today else "?"
            print(f"    {label:<26} {before_text} -> {fmt_calls(after_calls)}")
        now_runs = runs["now"][kind]
        print_phase_medians("provider requests (not priced)", [r.provider for r in now_runs])
        print_phase_medians(
            "new TLS connections (AWS and provider)", [r.connections for r in now_runs]
        )
        print(
            f"  peak RSS (largest of the runs): {now.peak_rss_mb:.0f} MB"
            + (f" (today {today.peak_rss_mb:.0f} MB)" if today else "")
            + f"; '!' marks a size under {RSS_HEADROOM:g} x that"
        )
        answers = "openai-api-key" in spec.parameters  # it waits for the model
        token_label = {"chat": "1st token", "stream": "1st delta"}.get(kind)
        header = f"    {'memory':>8}  {'cold today':>10}  {'cold now':>9}  {'warm now':>9}"
        if token_label:
            header += f"  {token_label + ' now':>13}"
        header += f"  {'$/1M warm':>9}  {'$/1M cold':>9}"
        if answers:
            header += f"  {f'$/1M {ANSWER_S:g}s answers':>16}"
        print(header)
        table: list[dict[str, Any]] = []
        for memory in memory_sizes(spec.memory_mb):
            cold_now = cold_ms(now, memory, latency)
            cold_today = cold_ms(today, memory, latency) if today else None
            warm_now = warm_ms(now, memory, latency)
            token_now = first_token_ms(now, memory, latency)
            warm_cost = warm_cost_per_million(now, memory, latency, arch)
            cold_cost = cold_cost_per_million(now, memory, latency, arch)
            mark = "*" if memory == spec.memory_mb else " "
            tight = "!" if too_tight(now, memory) else " "
            answer_cost = answer_cost_per_million(now, memory, latency, arch)
            line = (
                f"  {mark}{tight}{memory:>5} MB  {fmt_ms(cold_today):>10}  {fmt_ms(cold_now):>9}"
                f"  {fmt_ms(warm_now):>9}"
            )
            if token_label:
                line += f"  {fmt_ms(token_now):>13}"
            line += f"  {warm_cost:>9.2f}  {cold_cost:>9.2f}"
            if answers:
                line += f"  {answer_cost:>16.2f}"
            print(line)
            table.append(
                {
                    "memory_mb": memory,
                    "deployed": memory == spec.memory_mb,
                    "cold_today_ms": cold_today,
                    "cold_now_ms": cold_now,
                    "warm_now_ms": warm_now,
                    "first_token_now_ms": token_now,
                    "first_token_today_ms": first_token_ms(today, memory, latency)
                    if today
                    else None,
                    "warm_usd_per_million": warm_cost,
                    "cold_usd_per_million": cold_cost,
                    "answer_usd_per_million": answer_cost if answers else None,
                    "too_tight": too_tight(now, memory),
                }
            )
            if memory == spec.memory_mb:
                goal_figures |= {
                    (kind, "cold"): cold_now,
                    (kind, "warm"): warm_now,
                    (kind, "first_token"): token_now,
                }
                if today:
                    today_figures |= {
                        (kind, "cold"): cold_today or 0.0,
                        (kind, "warm"): warm_ms(today, memory, latency),
                        (kind, "first_token"): first_token_ms(today, memory, latency),
                    }
        doc["functions"][kind] = {
            "handler": spec.handler,
            "memory_mb": spec.memory_mb,
            "measured": {name: asdict(m[kind]) for name, m in measured.items()},
            "runs": {name: [asdict(r) for r in r_kind[kind]] for name, r_kind in runs.items()},
            "table": table,
        }
    print("\ngoals (at each function's deployed memory, modelled, provider excluded)")
    results = check_goals(goal_figures)
    doc["goals"] = []
    for result in results:
        goal = result.goal
        key = (goal.function, goal.metric)
        was = f"  (today {today_figures[key]:.0f} ms)" if key in today_figures else ""
        verdict = "met" if result.met else "NOT met"
        print(
            f"  {goal.function} {goal.metric.replace('_', ' ')} <= {goal.limit_ms:g} ms: "
            f"{result.value_ms:.0f} ms  {verdict}{was}"
        )
        doc["goals"].append(
            {
                **asdict(goal),
                "value_ms": result.value_ms,
                "met": result.met,
                "today_ms": today_figures.get(key),
            }
        )
    return doc


def main() -> None:
    from benchmarks.handlers import lambda_like_dir
    from chatbot_deploy import app_spec
    from chatbot_deploy.deploy.context import DEFAULT_ARCH

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--runs", type=int, default=5, help="cold starts per function (each a fresh child)"
    )
    parser.add_argument("--warm", type=int, default=5, help="warm invocations after each cold one")
    parser.add_argument(
        "--baseline", default=TODAY, help=f"git ref of today's code (default {TODAY})"
    )
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--latency", action="append", default=[], metavar="SERVICE=MS")
    parser.add_argument("--arch", default=DEFAULT_ARCH, choices=sorted(GB_SECOND_PRICE_USD))
    parser.add_argument("--json", metavar="PATH", help="write all figures here")
    args = parser.parse_args()
    latency = parse_latency(args.latency)
    kinds = list(app_spec.FUNCTIONS)

    print("modelled cold = init CPU + first-invocation CPU x max(1, 1769 / MB)")
    print("                + AWS round trips (init and first invocation) x latency")
    print("modelled warm = warm-invocation CPU x max(1, 1769 / MB) + its AWS round trips x latency")
    print("assumptions: init runs on a full core (burst); this machine's core = Lambda's vCPU at")
    print(
        "  1,769 MB; latency per request: "
        + ", ".join(f"{service} {ms:g} ms" for service, ms in latency.items())
        + "; provider instant (excluded)"
    )
    print(
        f"cost: {args.arch}, us-east-1 list prices: $0.20 per 1M requests + "
        f"${GB_SECOND_PRICE_USD[args.arch]} per GB-s, billed per 1 ms rounded up; a cold request"
        " bills init + first invocation (INIT billed since 1 Aug 2025); a function that calls"
        f" the model also waits {ANSWER_S:g} s per answer, billed at its memory"
    )
    print(
        f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]} (Lambda: python3.12); "
        f"{args.runs} cold starts per function, {args.warm} warm invocations each"
    )
    like = lambda_like_dir(None)
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as scratch_name:
        scratch = Path(scratch_name)
        variants = [Variant("now", LAMBDA_SRC)]
        if not args.no_baseline:
            src, why = extract_baseline(args.baseline, scratch / "baseline")
            if src is None:
                print(f"no 'today' column: {args.baseline} unavailable: {why}")
            else:
                print(f"today = {args.baseline} (lambda_src via git archive)")
                variants.insert(0, Variant("today", src))
        for variant in variants:  # bytecode as a warm build has it, for both
            compileall.compile_dir(variant.src, quiet=1)
        home = scratch / "home"
        home.mkdir()
        certs = make_certs(scratch)
        aws_bundle = bundle_with(botocore_bundle(like), certs.ca, scratch / "aws-bundle.pem")
        ssl_bundle = bundle_with(system_bundle(), certs.ca, scratch / "ssl-bundle.pem")
        recorder = Recorder()
        with fake_aws(certs, recorder) as endpoint, fake_provider(certs, recorder) as provider:
            setup = create_data(endpoint, aws_bundle, kinds)
            domain = endpoint.removeprefix("https://")
            all_runs: dict[str, dict[str, list[Run]]] = {v.name: {} for v in variants}
            for kind in kinds:
                event, expect = build_event(kind, setup, domain)
                env = lambda_environment(kind, endpoint, provider, aws_bundle, ssl_bundle, home)
                for _ in range(args.runs):
                    for variant in variants:
                        run = run_child(
                            kind, variant, like, event, expect, env, args.warm, recorder, scratch
                        )
                        all_runs[variant.name].setdefault(kind, []).append(run)
                print(f"  measured {kind}", file=sys.stderr, flush=True)
    measured = {
        name: {kind: summarize(kind_runs) for kind, kind_runs in by_kind.items()}
        for name, by_kind in all_runs.items()
    }
    doc = report(measured, all_runs, latency, args.arch)
    if args.json:
        doc |= {
            "formula": {
                "full_vcpu_mb": FULL_VCPU_MB,
                "latency_ms": latency,
                "arch": args.arch,
                "request_price_usd": REQUEST_PRICE_USD,
                "gb_second_price_usd": GB_SECOND_PRICE_USD[args.arch],
            },
            "baseline": args.baseline if "today" in measured else None,
            "runs": args.runs,
            "warm": args.warm,
        }
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
        print(f"\nfigures written to {args.json}")


if __name__ == "__main__":
    main()
