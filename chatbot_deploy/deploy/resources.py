"""The list of resource types a stack is made of: the one list `up`, `status` and
`teardown` derive from (`planner.py`).

Order is the order `status` and `teardown` list them in; what runs before what comes from
each unit's `after`. Adding a resource type is one module (a `Unit`) and one line here.
"""

from __future__ import annotations

from chatbot_deploy.deploy import (
    api,
    bucket,
    certificate,
    distribution,
    domain_records,
    functions,
    headers_policy,
    iam,
    layer_versions,
    logs,
    params,
    permissions,
    site_access,
    site_grant,
    socket_api,
    table,
    website,
)
from chatbot_deploy.deploy.unit import Unit

UNITS: tuple[Unit, ...] = (
    api.HttpApi(),
    socket_api.SocketApi(),
    functions.Functions(),
    permissions.InvokePermissions(),
    permissions.SocketInvokePermissions(),
    iam.Roles(),
    iam.ConnectionGrants(),
    logs.LogGroups(),
    layer_versions.Layer(),
    params.Parameters(),
    table.Tables(),
    bucket.Bucket(),
    site_grant.SiteGrant(),
    website.WebBuild(),
    website.SiteFiles(),
    certificate.Certificate(),
    distribution.Distribution(),
    domain_records.DomainRecords(),
    site_access.SiteAccess(),
    headers_policy.HeadersPolicy(),
)
