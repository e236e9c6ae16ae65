"""The web app as two steps of `up`: build it, then sync it (with the stack's
`config.json`) to the site bucket. Neither is a resource of its own: the files live in the
bucket and go with it."""

from __future__ import annotations

from chatbot_deploy import app_spec, webconfig
from chatbot_deploy.deploy.api import ApiInfo
from chatbot_deploy.deploy.context import DeployContext
from chatbot_deploy.deploy.graph import Outcome, Outputs
from chatbot_deploy.deploy.socket_api import SocketInfo
from chatbot_deploy.deploy.unit import Job, Unit


def site_urls(ctx: DeployContext, api: ApiInfo, socket: SocketInfo) -> tuple[str, str]:
    """The API and WebSocket URLs the web app calls (config.json): paths on its own origin
    with the CDN (which forwards them, whatever name the site is reached by), the API
    Gateway URLs with `--no-cdn`."""
    if ctx.settings.cdn:
        return "/", app_spec.SOCKET_PATH
    return api.url, socket.url


class WebBuild(Unit):
    kind = "web"
    title = "Web app build"
    listed = False
    sweeps = False

    def ensure(self, job: Job, key: str, inputs: Outputs) -> Outcome:
        return Outcome("ready", job.sources.build_web())


class SiteFiles(Unit):
    kind = "site"
    title = "Website files"
    after = ("web", "bucket", "api", "socket-api")
    part_of = "bucket"
    listed = False
    sweeps = False  # the sync itself deletes what the new build no longer has

    def ensure(self, job: Job, key: str, inputs: Outputs) -> Outcome:
        ctx = job.ctx
        api_url, socket_url = site_urls(ctx, inputs["api"], inputs["socket-api"])
        config_json = webconfig.runtime_config_bytes(
            api_url, ctx.names.stack, socket_url, models=ctx.settings.models
        )
        result = job.sources.sync_site(
            ctx.client("s3"), inputs["bucket"], inputs["web"], config_json
        )
        changed = bool(result.uploaded or result.deleted)
        summary = (
            f"{len(result.uploaded)} uploaded, {len(result.deleted)} deleted, "
            f"{len(result.unchanged)} unchanged"
        )
        return Outcome(summary, inputs["bucket"], changed)
