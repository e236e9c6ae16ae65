"""`local`'s HTTP server on any path: every answer it gives itself is JSON like API Gateway's,
it answers only for its own host names, and a client that misbehaves or goes away costs at
most a line on the console, never a traceback. (Answers to /login and /chat, which are rows
of docs/api.md, are checked in test_contract_http.py.)"""

import logging
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatbot_deploy import app_spec
from chatbot_deploy.errors import UserError
from chatbot_deploy.local import server as local_server
from tests.support import http
from tests.support.local_app import PASSWORD, USERNAME, LocalApp, running_local

# As the build writes it (frontend/vite.config.ts): the policy in a <meta> of index.html.
BUILD_CSP = "default-src 'self'; script-src 'self'; connect-src 'self' https: wss:"
INDEX_HTML = (
    f'<!doctype html><meta http-equiv="Content-Security-Policy" content="{BUILD_CSP}">'
    "<title>app</title>"
)


@pytest.fixture(scope="module")
def app(fake_openai, tmp_path_factory) -> Iterator[LocalApp]:
    web = tmp_path_factory.mktemp("web")
    (web / "index.html").write_text(INDEX_HTML)
    (web / "assets").mkdir()
    (web / "assets" / "index-abc123.js").write_text("console.log('app')\n")
    with running_local(fake_openai.base_url, web_dir=Path(web)) as running:
        yield running


def send(app, data: bytes, **kw) -> http.Reply:
    return http.raw(app.url, data, **kw)


def config_for(api_url: str) -> dict[str, object]:
    """/config.json under `local`: the API and the WebSocket API on the request's host, and
    the models offered (the app's: tests/support/local_app.py)."""
    socket_url = api_url.replace("http://", "ws://", 1) + app_spec.SOCKET_PATH
    return {"apiUrl": api_url, "socketUrl": socket_url, "stack": "local", "models": ["test-model"]}


def json_answer(reply: http.Reply) -> tuple[int, object]:
    assert reply.headers["content-type"] == "application/json", reply.body[:200]
    return reply.status, reply.json()


# ------------------------------------------------------------ http.server's own answers: JSON


def big_headers(count: int) -> list[str]:
    return [f"X-H{index}: v" for index in range(count)]


OWN_ERRORS = [
    ("bad request line", b"GARBAGE\r\n\r\n", 400, "Bad Request"),
    ("bad version", b"GET / HTTP/x.y\r\n\r\n", 400, "Bad Request"),
    ("HTTP/2 line", b"GET / HTTP/2.0\r\n\r\n", 505, "HTTP Version Not Supported"),
    ("request line over 64 KiB", b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414, None),
    ("header line over 64 KiB", None, 431, "Request Header Fields Too Large"),
    ("over 100 headers", None, 431, "Request Header Fields Too Large"),
    ("unknown method", None, 501, "Not Implemented"),
    ("file not found", None, 404, "Not Found"),
]


def own_error_request(app, case: str, data: bytes | None) -> bytes:
    if data is not None:
        return data
    if case == "header line over 64 KiB":  # the 100 KB header: it was an HTML 431
        return http.build(app.url, "GET", "/", "X-Huge: " + "y" * 100_000)
    if case == "over 100 headers":
        return http.build(app.url, "GET", "/", *big_headers(101))
    if case == "unknown method":
        return http.build(app.url, "FOO", "/")
    return http.build(app.url, "GET", "/nothing-here.js")


@pytest.mark.parametrize(
    ("case", "data", "status", "message"), OWN_ERRORS, ids=[c[0] for c in OWN_ERRORS]
)
def test_http_server_s_own_errors_are_json(app, case, data, status, message):
    reply = send(app, own_error_request(app, case, data))
    assert json_answer(reply) == (status, {"message": message or "Request-URI Too Long"})
    assert b"<" not in reply.body  # no HTML page, whatever the Python version


def test_a_file_not_found_keeps_the_connection(app):
    """A 404 after a whole request was read needs no closing (http.server closed)."""
    with socket.create_connection(("127.0.0.1", app.server.server_address[1]), 5) as sock:
        file = sock.makefile("rb")
        for path in ("/missing", "/index.html"):
            sock.sendall(http.build(app.url, "GET", path))
            status_line = file.readline()
            headers = {}
            while (line := file.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            file.read(int(headers["content-length"]))
            assert "connection" not in headers
        assert status_line.startswith(b"HTTP/1.1 200")


def test_a_get_with_a_body_does_not_poison_the_next_request(app):
    """The body of a request to a file is read and dropped, not taken for the next request."""
    junk = b"GARBAGE-THAT-IS-NOT-A-REQUEST"
    first = http.build(app.url, "GET", "/index.html", f"Content-Length: {len(junk)}", body=junk)
    with socket.create_connection(("127.0.0.1", app.server.server_address[1]), 5) as sock:
        sock.sendall(first + http.build(app.url, "GET", "/config.json"))
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.count(b"HTTP/1.1 200") == 2


# ------------------------------------------------------- the site's security headers (the CDN's)


def csp_directives(value: str) -> dict[str, str]:
    directives = (part.strip().partition(" ") for part in value.split(";") if part.strip())
    return {name: rest.strip() for name, _, rest in directives}


@pytest.mark.parametrize("path", ["/", "/index.html", "/config.json", "/assets/index-abc123.js"])
def test_the_web_app_is_served_with_the_cdn_s_security_headers(app, path):
    reply = http.request("GET", f"{app.url}{path}")
    assert reply.status == 200
    # The build's policy, tightened as the CDN's response headers policy has it
    # (site_headers): API and WebSocket on this origin only, never framed.
    assert csp_directives(reply.headers["content-security-policy"]) == {
        "default-src": "'self'",
        "script-src": "'self'",
        "connect-src": "'self'",  # covers ws://<host>/live
        "frame-ancestors": "'none'",
    }
    assert reply.headers["x-frame-options"] == "DENY"
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["referrer-policy"] == "no-referrer"
    assert "strict-transport-security" not in reply.headers  # http: no HSTS


def test_a_file_not_found_and_a_repeated_request_keep_the_headers_once(app):
    with socket.create_connection(("127.0.0.1", app.server.server_address[1]), 5) as sock:
        sock.sendall(http.build(app.url, "GET", "/missing.js") + http.build(app.url, "GET", "/"))
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    missing, found = data.split(b"HTTP/1.1 ")[1:]
    assert missing.startswith(b"404") and found.startswith(b"200")
    for answer in (missing, found):
        assert answer.lower().count(b"content-security-policy: ") == 1
        assert answer.lower().count(b"x-frame-options: deny") == 1


def test_api_answers_are_not_the_site_s(app):
    reply = http.post(f"{app.url}/login", {"username": USERNAME, "password": "wrong"})
    assert reply.status == 401
    assert "content-security-policy" not in reply.headers


def test_the_not_built_page_has_the_headers_too():
    from chatbot_deploy.local.gateway import HttpApi

    server = local_server.LocalServer(("127.0.0.1", 0), HttpApi({}), None, "s")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        reply = http.request("GET", f"{server.url}/")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert b"has not been built" in reply.body
    assert csp_directives(reply.headers["content-security-policy"]) == {
        "default-src": "'none'",
        "connect-src": "'self'",
        "frame-ancestors": "'none'",
    }
    assert reply.headers["x-frame-options"] == "DENY"


def test_a_build_without_a_csp_is_refused_before_serving(tmp_path):
    from chatbot_deploy.local.gateway import HttpApi

    (tmp_path / "index.html").write_text("<!doctype html><title>old build</title>")
    with pytest.raises(UserError, match="no Content-Security-Policy"):
        local_server.LocalServer(("127.0.0.1", 0), HttpApi({}), tmp_path, "s")


# ------------------------------------------------------------------------ /config.json and Host


def test_config_json_answers_for_this_server_s_names(app):
    port = app.server.server_address[1]
    for host in (
        f"127.0.0.1:{port}",
        f"localhost:{port}",
        f"LOCALHOST:{port}",
        f"app.localhost:{port}",
        f"[::1]:{port}",
        f"{socket.gethostname()}:{port}",
        "192.168.1.20:9000",  # a LAN address, or a container's port mapping: any port
        "localhost",
    ):
        reply = send(app, http.build(app.url, "GET", "/config.json", host=host))
        assert json_answer(reply) == (200, config_for(f"http://{host}"))


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:8000",
        "localhost.evil.example",  # not under .localhost
        "127.0.0.1.nip.io",  # a public name that resolves to 127.0.0.1
        "xn--localhost-",
    ],
)
def test_config_json_never_echoes_a_foreign_host(app, host, caplog):
    caplog.set_level(logging.INFO, logger="chatbot_deploy.local")
    for path in ("/config.json", "/", "/index.html", "/login"):
        reply = send(app, http.build(app.url, "GET", path, host=host))
        status, body = json_answer(reply)
        assert status == 421
        assert isinstance(body, dict) and body["message"].startswith("Misdirected Request")
        assert host.encode() not in reply.body
    logged = [r.getMessage() for r in caplog.records if "421" in r.getMessage()]
    assert logged and "--host" in logged[0] and app.url in logged[0]


def test_an_absolute_form_target_must_name_this_server_too(app):
    target = "http://evil.example/config.json"
    reply = send(app, http.build(app.url, "GET", target))
    assert json_answer(reply)[0] == 421
    reply = send(app, http.build(app.url, "GET", f"{app.url}/config.json"))
    assert json_answer(reply) == (200, config_for(app.url))


def test_http_1_0_without_host_gets_the_listen_address(app):
    reply = send(app, b"GET /config.json HTTP/1.0\r\n\r\n")
    assert json_answer(reply) == (200, config_for(app.url))


def test_the_name_given_to_host_is_served(app, monkeypatch):
    # As LocalServer(("devbox.lan", port), ...) has it (see the next test).
    monkeypatch.setattr(app.server, "host_names", app.server.host_names | {"devbox.lan"})
    reply = send(app, http.build(app.url, "GET", "/config.json", host="DevBox.lan.:8000"))
    assert json_answer(reply) == (200, config_for("http://DevBox.lan.:8000"))


def test_listen_names_are_collected():
    from chatbot_deploy.local.gateway import HttpApi

    server = local_server.LocalServer(("localhost", 0), HttpApi({}), None, "s")
    try:
        assert server.host_names == {"localhost", socket.gethostname().lower()}
        assert server.serves("LocalHost.") and not server.serves("localhost.example")
    finally:
        server.server_close()


# --------------------------------------------- a refusal reaches a client still sending its body


def test_a_refused_upload_still_reads_its_answer(app):
    """Refused for its framing with 4 MB still to come, the client sends them all, then reads:
    it gets the 400, not a connection reset (which a close with unread data sends)."""
    body = b"x" * 4_000_000
    reply = send(app, http.build(app.url, "POST", "/login", "Content-Length: abc", body=body))
    assert json_answer(reply) == (400, {"message": "Bad Request"})


def test_lingering_is_bounded(app, monkeypatch):
    """A client that never stops sending nor closes holds its thread LINGER_S at most."""
    monkeypatch.setattr(local_server, "LINGER_S", 0.5)
    with socket.create_connection(("127.0.0.1", app.server.server_address[1]), 5) as sock:
        sock.sendall(http.build(app.url, "POST", "/login", "Content-Length: -1"))
        started = time.perf_counter()
        file = sock.makefile("rb")
        assert file.readline().startswith(b"HTTP/1.1 400")
        while file.readline() not in (b"\r\n", b""):
            pass
        file.read()  # the body, then the server's end of the stream
        sock.sendall(b"more")  # still sending: the server drops it, then closes
        time.sleep(0.7)
        with pytest.raises(OSError):
            for _ in range(50):
                sock.sendall(b"y" * 65536)
                time.sleep(0.01)
        assert time.perf_counter() - started < 3


# ---------------------------------------------------------- a client that goes away mid-answer


def _reset(sock: socket.socket) -> None:
    """Close with a reset (SO_LINGER 0), as an aborted fetch may."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.mark.parametrize("how", ["reset", "close"])
def test_a_client_that_gives_up_costs_one_quiet_line(app, how, caplog, capfd):
    """The web app's Stop button, `curl --max-time 1`: it was a 20-line BrokenPipeError
    traceback on the console."""
    caplog.set_level(logging.DEBUG, logger="chatbot_deploy.local")
    token = http.login(app.url, USERNAME, PASSWORD)
    body = b'{"messages": [{"role": "user", "content": "[[slow:0.8]] hi"}]}'
    request = http.build(
        app.url,
        "POST",
        "/chat",
        f"Authorization: Bearer {token}",
        f"Content-Length: {len(body)}",
        body=body,
    )
    for _ in range(3):
        sock = socket.create_connection(("127.0.0.1", app.server.server_address[1]), 5)
        sock.sendall(request)
        time.sleep(0.2)  # the server is waiting for the model
        _reset(sock) if how == "reset" else sock.close()
    time.sleep(1.5)  # the answers were written to closed connections
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err + captured.out
    lines = [r for r in caplog.records if r.name == "chatbot_deploy.local"]
    assert all(r.exc_info is None for r in lines)
    went_away = [r for r in lines if "went away" in r.getMessage()]
    assert len(went_away) <= 3  # one line a request at most
    assert all(r.levelno <= logging.INFO for r in went_away)
    if how == "reset":  # a reset always fails the write, so it is always reported
        assert len(went_away) == 3
        assert "POST /chat" in went_away[0].getMessage()


def test_an_unexpected_error_is_logged_as_one(app, monkeypatch, caplog):
    """Not a client going away: a bug keeps its traceback (in the log, not on a client)."""
    caplog.set_level(logging.INFO, logger="chatbot_deploy.local")

    def broken(self: local_server.RequestHandler) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(local_server.RequestHandler, "do_GET", broken)
    with pytest.raises(Exception):  # noqa: B017 - the connection just closes
        send(app, http.build(app.url, "GET", "/"), timeout=2)
    time.sleep(0.2)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None
