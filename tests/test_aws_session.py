"""Resolving the AWS session as boto3 does, with one-line errors for what a user can fix."""

import pytest

from chatbot_deploy.aws import connect
from chatbot_deploy.errors import UserError


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    import os

    for var in list(os.environ):
        if var.startswith("AWS_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


def with_keys(env):
    env.setenv("AWS_ACCESS_KEY_ID", "testing")
    env.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def test_region_from_option_then_aws_region_then_aws_default_region(clean_env):
    with_keys(clean_env)
    clean_env.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert connect(None, None).region == "eu-west-1"
    clean_env.setenv("AWS_REGION", "eu-central-1")
    assert connect(None, None).region == "eu-central-1"
    assert connect(None, "ap-southeast-2").region == "ap-southeast-2"


def test_partition_follows_the_region(clean_env):
    with_keys(clean_env)
    assert connect(None, "us-east-1").partition == "aws"
    assert connect(None, "cn-north-1").partition == "aws-cn"
    assert connect(None, "us-gov-west-1").partition == "aws-us-gov"


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda env: None, "no AWS region"),
        (lambda env: env.setenv("AWS_REGION", "mars-north-1"), "unknown AWS region 'mars-north-1'"),
        (lambda env: env.setenv("AWS_REGION", "eu-west-1"), "no AWS credentials found"),
    ],
    ids=["no region", "unknown region", "no credentials"],
)
def test_one_line_errors(clean_env, setup, message):
    if message != "no AWS credentials found":
        with_keys(clean_env)
    setup(clean_env)
    with pytest.raises(UserError, match=message):
        connect(None, None)


def test_unknown_profile(clean_env):
    with pytest.raises(UserError, match="AWS profile 'nope' not found"):
        connect("nope", "eu-west-1")
