"""The commands we suggest to run next, written as the user would have to type them: with
the stack, and the --region/--profile they gave (the next command would otherwise look in
another region or account)."""

from __future__ import annotations

import shlex

from chatbot_deploy.aws import Aws
from chatbot_deploy.deploy.graph import StepsInterrupted
from chatbot_deploy.errors import Interrupted


def command_line(command: str, *args: str, stack: str, aws: Aws | None = None) -> str:
    words = ["chatbot-deploy", command, "--stack", stack]
    if aws is not None and aws.given_region:
        words += ["--region", aws.given_region]
    if aws is not None and aws.given_profile:
        words += ["--profile", aws.given_profile]
    return " ".join([shlex.join(words), *args])


def interrupted(stopped: StepsInterrupted, rerun: str) -> Interrupted:
    """The one line after Ctrl-C: what was done, and the command that finishes the job."""
    done, total = len(stopped.done), len(stopped.record.steps)
    changed = [step.title for step in stopped.changed]
    what = f"; changed: {', '.join(changed)}" if changed else "; nothing was changed"
    return Interrupted(
        f"interrupted after {done} of {total} steps{what}. Every step either finished or "
        f"did not start: `{rerun}` finishes the job"
    )
