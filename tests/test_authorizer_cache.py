"""Authorizer caching, as API Gateway does it, and the expiry check that backs it up.

(Its own module: `local` is process-global, so it cannot run beside another module's app.)
"""

import time

from tests.support import http
from tests.support.local_app import PASSWORD, USERNAME

MESSAGE = {"messages": [{"role": "user", "content": "hi"}]}


def test_a_token_expiring_while_its_authorization_is_cached_gets_401(fake_openai):
    from chatbot_deploy.app_spec import AppConfig
    from tests.support.local_app import running_local

    config = AppConfig(models=("m",), openai_base_url=fake_openai.base_url, token_ttl_s=1)
    with running_local(fake_openai.base_url, config=config) as short:
        token = http.login(short.url, USERNAME, PASSWORD)
        first = http.post(f"{short.url}/chat", MESSAGE, http.bearer(token))
        assert first.status == 200  # authorized, and the answer is now cached for 5 minutes
        time.sleep(2.1)
        again = http.post(f"{short.url}/chat", MESSAGE, http.bearer(token))
        assert again.status == 401
        assert again.json() == {"error": "session expired; log in again"}
