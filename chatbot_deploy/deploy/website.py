"""The web app as two steps of `up`: build it, then sync it (with the stack's
`config.json`) to the site bucket. Neither is a resource of its own: the files live in the
bucket and go with it."""

from __future__ import annotations

from chatbot_deploy import webconfig
from chatbot_deploy.deploy.api import ApiInfo
from chatbot_deploy.deploy.graph import Outcome, Outputs
from chatbot_deploy.deploy.socket_api import SocketInfo
from chatbot_deploy.deploy.unit import Job, Unit


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
        info: ApiInfo = inputs["api"]
        socket: SocketInfo = inputs["socket-api"]
        config_json = webconfig.runtime_config_bytes(
            info.url, ctx.names.stack, socket.url, models=ctx.settings.models
        )
        result = job.sources.sync_site(
            ctx.client("s3"), inputs["bucket"], inputs["web"], config_json
        )
        changed = bool(result.uploaded or result.deleted)
        summary = (
            f"{len(result.uploaded)} uploaded, {len(result.deleted)} deleted, "
            f"{len(result.unchanged)} unchanged"
        )
        return Outcome(summary, ctx.website_url, changed)
