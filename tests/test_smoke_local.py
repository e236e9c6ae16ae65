from tests.support import http
from tests.support.local_app import PASSWORD, USERNAME, LocalApp


def test_login_then_chat_round_trip(local_app: LocalApp, fake_openai):
    token = http.login(local_app.url, USERNAME, PASSWORD)
    reply = http.post(
        f"{local_app.url}/chat",
        {"messages": [{"role": "user", "content": "hello there"}]},
        http.bearer(token),
    )
    assert reply.status == 200, reply.body
    body = reply.json()
    assert body["message"] == {"role": "assistant", "content": "echo: hello there"}
    assert body["model"] == "test-model"
    assert body["usage"]["total_tokens"] > 0
