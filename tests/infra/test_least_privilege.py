"""Least privilege, read from the Terraform itself (python-hcl2) and the variables generated for it.

No `*` action or bare `*` resource in what a policy allows, no FullAccess / Owner / Editor /
Contributor grant, every bucket on the customer-managed key, the API unable to write the model or
read raw data, the runner confined to its bucket, CI trusted for one repository and branch.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from cirrus.deploy.targets.terraform import catalog_layout
from tests.infra.conftest import (
    INFRA,
    STORAGE_ROOT,
    Block,
    Resolver,
    allowed,
    block,
    blocks_of,
    locals_of,
    matches,
    statements,
)

# IAM actions that have no resource type: "*" is the only resource they accept.
NO_RESOURCE_TYPE = {"ecr:GetAuthorizationToken"}
BANNED_ROLES = {"Owner", "Contributor", "User Access Administrator", "roles/owner", "roles/editor"}
# The only grants on a whole Google project: writing logs, and the scheduler's custom role
# (Vertex AI pipeline jobs have no resource-level IAM).
PROJECT_ROLES = {"roles/logging.logWriter", "${google_project_iam_custom_role.scheduler.id}"}
WRITE_ACTIONS = ("s3:PutObject", "s3:DeleteObject")
JSON_POLICY_STATEMENT = re.compile(r"\{Sid = .*?(?=\{Sid = |\Z)", re.S)


def policy_documents(blocks: list[Block]) -> list[Block]:
    """Every aws_iam_policy_document that grants permissions (not a trust policy)."""
    return [
        b
        for b in blocks
        if b.type == "aws_iam_policy_document" and not any("principals" in s for s in statements(b))
    ]


def json_policies(blocks: list[Block]) -> list[tuple[Block, str]]:
    """Policies written inline with jsonencode (key, bucket and secret policies)."""
    return [
        (b, str(b.body["policy"]))
        for b in blocks
        if "jsonencode" in str(b.body.get("policy", "")) and "Statement" in str(b.body["policy"])
    ]


def wildcard_free(resource: str) -> bool:
    """A resource that names something: not "*", and a `*` only as the tail of a named prefix."""
    if "*" not in resource:
        return True
    head = resource.split("*", 1)[0]
    return resource.endswith("*") and resource.count("*") == 1 and head.endswith(("/", ":", "-"))


def test_no_allowed_action_or_resource_is_a_wildcard(
    hcl: dict[str, list[Block]], resolvers: dict[str, Resolver]
) -> None:
    problems = []
    for document in policy_documents(hcl["aws"]):
        for statement in allowed(document):
            actions = statement["actions"]
            problems += [f"{document.name}: action {a}" for a in actions if "*" in a]
            for resource in resolvers["aws"].list(statement["resources"]):
                if resource == "*" and set(actions) <= NO_RESOURCE_TYPE:
                    continue
                if not wildcard_free(resource):
                    problems.append(f"{document.name}: resource {resource}")
    assert policy_documents(hcl["aws"]) and not problems, problems


def test_inline_policies_allow_no_wildcard_action() -> None:
    # Key, bucket and secret policies: a Deny may name s3:* (it widens nothing); an Allow may not,
    # and "*" as the resource of a key policy is the key itself.
    problems, seen = [], 0
    for block_, policy in json_policies(blocks_of(INFRA / "aws")):
        parts = JSON_POLICY_STATEMENT.findall(policy)
        assert len(parts) == policy.count("Effect ="), f"{block_.name}: a statement without Sid"
        for part in parts:
            seen += 1
            if 'Effect = "Allow"' in part:
                problems += [
                    f"{block_.name}: {a}" for a in re.findall(r'"(\w+:[\w*]+)"', part) if "*" in a
                ]
                if 'Resource = "*"' in part and block_.type != "aws_kms_key":
                    problems.append(f"{block_.name}: Resource *")
    assert seen >= 4 and not problems, problems


def test_custom_roles_list_their_permissions(hcl: dict[str, list[Block]]) -> None:
    gcp = block(hcl["gcp"], "google_project_iam_custom_role", "scheduler").body["permissions"]
    azure = block(hcl["azure"], "azurerm_role_definition", "scheduler").body["permissions"][0]
    assert gcp and not [p for p in gcp if "*" in p]
    assert azure["actions"] and not [a for a in azure["actions"] if "*" in a]


def test_no_full_access_owner_editor_or_contributor_grant(hcl: dict[str, list[Block]]) -> None:
    granted = []
    for cloud in ("aws", "gcp", "azure"):
        for b in hcl[cloud]:
            for key in ("role", "role_definition_name", "policy_arn"):
                if key in b.body:
                    granted.append((cloud, b.name, str(b.body[key])))
    banned = [
        g
        for g in granted
        if g[2] in BANNED_ROLES
        or g[2].endswith("FullAccess")
        or re.search(r"roles/[\w.]*admin$", g[2])
    ]
    assert len(granted) > 20 and not banned, banned
    attached = [b.name for b in hcl["aws"] if b.type == "aws_iam_role_policy_attachment"]
    assert not attached, f"managed policies attached: {attached}"


def test_project_wide_google_grants_are_logs_and_the_scheduler_only(
    hcl: dict[str, list[Block]],
) -> None:
    project = [b for b in hcl["gcp"] if b.type == "google_project_iam_member"]
    assert {b.body["role"] for b in project} == PROJECT_ROLES


def test_azure_roles_are_granted_on_single_resources(hcl: dict[str, list[Block]]) -> None:
    scopes = {
        b.name: str(b.body["scope"]) for b in hcl["azure"] if b.type == "azurerm_role_assignment"
    }
    broad = {n: s for n, s in scopes.items() if "resource_group" in s or "subscription" in s}
    assert scopes and not broad, broad


def test_every_bucket_is_encrypted_with_the_rotated_customer_managed_key(
    hcl: dict[str, list[Block]],
) -> None:
    aws = hcl["aws"]
    key = block(aws, "aws_kms_key", "cirrus").body
    assert key["enable_key_rotation"] is True
    for bucket in [b for b in aws if b.type == "aws_s3_bucket"]:
        (sse,) = [
            b
            for b in aws
            if b.type == "aws_s3_bucket_server_side_encryption_configuration"
            and b.body["bucket"] == f"${{aws_s3_bucket.{bucket.name}.id}}"
        ]
        default = sse.body["rule"][0]["apply_server_side_encryption_by_default"][0]
        assert default == {"sse_algorithm": "aws:kms", "kms_master_key_id": "${var.kms_key_arn}"}
    assert block(aws, "module", "bucket").body["kms_key_arn"] == "${aws_kms_key.cirrus.arn}"
    assert block(aws, "aws_ecr_repository", "image").body["encryption_configuration"][0]["kms_key"]
    assert block(aws, "aws_secretsmanager_secret", "cirrus").body["kms_key_id"] == (
        "${aws_kms_key.cirrus.arn}"
    )

    gcp = hcl["gcp"]
    assert block(gcp, "google_kms_crypto_key", "cirrus").body["rotation_period"]
    for bucket in [b for b in gcp if b.type == "google_storage_bucket"]:
        assert bucket.body["encryption"][0]["default_kms_key_name"] == "${var.kms_key_id}"
    assert block(gcp, "module", "bucket").body["kms_key_id"] == "${google_kms_crypto_key.cirrus.id}"

    azure = hcl["azure"]
    accounts = [b for b in azure if b.type == "azurerm_storage_account"]
    keyed = {
        b.body["storage_account_id"]
        for b in azure
        if b.type == "azurerm_storage_account_customer_managed_key"
    }
    assert {f"${{azurerm_storage_account.{a.name}.id}}" for a in accounts} == keyed
    assert block(azure, "azurerm_key_vault_key", "cirrus").body["rotation_policy"]


def test_buckets_refuse_public_access_and_plain_http(hcl: dict[str, list[Block]]) -> None:
    aws = hcl["aws"]
    access = block(aws, "aws_s3_bucket_public_access_block", "this").body
    assert all(
        access[k] is True
        for k in (
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        )
    )
    tls = str(block(aws, "aws_s3_bucket_policy", "tls_only").body["policy"])
    assert 'Effect = "Deny"' in tls and '"aws:SecureTransport" = "false"' in tls
    gcs = block(hcl["gcp"], "google_storage_bucket", "this").body
    assert gcs["public_access_prevention"] == "enforced" and gcs["uniform_bucket_level_access"]
    account = block(hcl["azure"], "azurerm_storage_account", "cirrus").body
    assert account["https_traffic_only_enabled"] is True and account["min_tls_version"] == "TLS1_2"
    assert account["shared_access_key_enabled"] is False
    assert account["allow_nested_items_to_be_public"] is False


@pytest.fixture(scope="module")
def layout(catalog: dict[str, Any]) -> dict[str, Any]:
    """Served objects, the log and the raw files, relative to the storage root."""
    return catalog_layout(catalog, STORAGE_ROOT)


def s3_resources(document: Block, resolver: Resolver, actions: tuple[str, ...]) -> list[str]:
    """The S3 resources a role's policy allows any of `actions` on."""
    return [
        resource
        for statement in allowed(document)
        if any(matches(pattern, action) for pattern in statement["actions"] for action in actions)
        for resource in resolver.list(statement["resources"])
        if resource.startswith("arn:aws:s3:::") or resource == "*"
    ]


def test_serving_cannot_write_the_model_or_read_raw_data(
    hcl: dict[str, list[Block]],
    resolvers: dict[str, Resolver],
    tfvars: dict[str, dict[str, Any]],
    layout: dict[str, Any],
) -> None:
    aws = tfvars["aws"]
    bucket, prefix = aws["data_bucket"], aws["data_prefix"]
    serving = block(hcl["aws"], "aws_iam_policy_document", "serving")
    written = s3_resources(serving, resolvers["aws"], WRITE_ACTIONS)
    read = s3_resources(serving, resolvers["aws"], ("s3:GetObject",))
    model = f"arn:aws:s3:::{bucket}/{prefix}{layout['served'][0]}"
    raw = [f"arn:aws:s3:::{bucket}/{prefix}{path}" for path in layout["raw"]]
    assert written and read
    assert not [w for w in written if matches(w, model)], written
    assert not [r for r in read for name in raw if matches(r, name)], read
    # what it may write is the prediction log, and nothing else
    log = f"arn:aws:s3:::{bucket}/{prefix}{layout['log']}"
    assert all(w.startswith(log) for w in written), written

    # Google: writing is conditioned on the log prefix, reading on the served names
    gcp_grants = {
        b.name: b.body
        for b in hcl["gcp"]
        if b.type == "google_storage_bucket_iam_member"
        and b.body["member"] == "${google_service_account.serving.member}"
    }
    conditions = {n: g["condition"][0]["expression"] for n, g in gcp_grants.items()}
    writers = {n for n, g in gcp_grants.items() if g["role"] != "roles/storage.objectViewer"}
    assert conditions and all(conditions[n] == "${local.in_prefix.log}" for n in writers)
    readers = set(gcp_grants) - writers
    assert readers and all(conditions[n] == "${local.served}" for n in readers)

    # Azure: the same, through role-assignment conditions
    azure = {
        b.name: b.body
        for b in hcl["azure"]
        if b.type == "azurerm_role_assignment"
        and b.body["principal_id"] == "${azurerm_user_assigned_identity.serving.principal_id}"
    }
    assert azure["serving_log"]["condition"] == "${local.under.log}"
    assert azure["serving_reads"]["role_definition_name"] == "Storage Blob Data Reader"
    assert azure["serving_reads"]["condition"] == "${local.served}"
    assert {n for n, b in azure.items() if "Storage" in b["role_definition_name"]} == {
        "serving_log",
        "serving_reads",
    }


def test_the_served_and_log_conditions_name_the_catalog_paths(
    resolvers: dict[str, Resolver], tfvars: dict[str, dict[str, Any]], layout: dict[str, Any]
) -> None:
    for cloud in ("gcp", "azure"):
        prefix = tfvars[cloud]["data_prefix"]
        values = resolvers[cloud].locals
        text = resolvers[cloud].text(str(values["in_prefix" if cloud == "gcp" else "under"]))
        assert f"{prefix}{layout['log']}" in text
        assert f"{prefix}{layout['served'][0]}" in str(tfvars[cloud]["serving_read_objects"])
        assert "var.serving_read_objects" in str(values["served"])


def test_the_runner_touches_its_own_bucket_only(
    hcl: dict[str, list[Block]], resolvers: dict[str, Resolver], tfvars: dict[str, dict[str, Any]]
) -> None:
    aws = tfvars["aws"]
    assert aws["dvc_bucket"] != aws["data_bucket"], "the fixture should name two buckets"
    runner = block(hcl["aws"], "aws_iam_policy_document", "runner")
    every = s3_resources(
        runner, resolvers["aws"], ("s3:ListBucket", "s3:GetObject", *WRITE_ACTIONS)
    )
    own = f"arn:aws:s3:::{aws['data_bucket']}"
    assert every and all(r == own or r.startswith(f"{own}/{aws['data_prefix']}") for r in every), (
        every
    )

    gcp = tfvars["gcp"]
    buckets = {
        b.body["bucket"]
        for b in hcl["gcp"]
        if b.type == "google_storage_bucket_iam_member"
        and b.body["member"] == "${google_service_account.runner.member}"
    }
    # the data root, and the Vertex AI pipeline root the runner's pipeline jobs write
    assert buckets == {
        "${module.bucket[var.data_bucket].name}",
        "${module.bucket[var.pipeline_bucket].name}",
    }
    assert (
        gcp["pipeline_bucket"] != gcp["dvc_bucket"] or gcp["pipeline_bucket"] == gcp["data_bucket"]
    )

    scopes = {
        b.body["scope"]
        for b in hcl["azure"]
        if b.type == "azurerm_role_assignment"
        and b.body["principal_id"] == "${azurerm_user_assigned_identity.runner.principal_id}"
        and "Storage" in b.body["role_definition_name"]
    }
    assert scopes == {"${azurerm_storage_container.cirrus[var.data_container].id}"}


def test_ci_is_trusted_for_one_repository_and_branch(hcl: dict[str, list[Block]]) -> None:
    subject = "repo:${var.ci_repository}:ref:refs/heads/${var.ci_branch}"
    trust = block(hcl["aws"], "aws_iam_policy_document", "ci_trust")
    (statement,) = statements(trust)
    conditions = {c["variable"]: c for c in statement["condition"]}
    sub = conditions["${local.github_issuer}:sub"]
    assert sub["test"] == "StringEquals" and sub["values"] == [subject]
    assert conditions["${local.github_issuer}:aud"]["values"] == ["sts.amazonaws.com"]

    provider = block(hcl["gcp"], "google_iam_workload_identity_pool_provider", "github").body
    assert provider["attribute_condition"] == f'assertion.sub == "{subject}"'
    member = block(hcl["gcp"], "google_service_account_iam_member", "ci_federation").body["member"]
    assert member.endswith(f"/subject/{subject}")

    credential = block(hcl["azure"], "azurerm_federated_identity_credential", "ci").body
    assert credential["subject"] == subject
    for cloud in ("aws", "gcp", "azure"):
        validation = variables(cloud)["ci_repository"]["validation"][0]["condition"]
        assert "[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+" in validation


def variables(cloud: str) -> dict[str, Any]:
    """A cloud's declared variables."""
    from tests.infra.conftest import variables_of

    return variables_of(INFRA / cloud)


def test_no_long_lived_keys(hcl: dict[str, list[Block]]) -> None:
    keyed = {
        "aws_iam_access_key",
        "aws_iam_user",
        "google_service_account_key",
        "azuread_service_principal_password",
        "azuread_application_password",
    }
    assert not [b.type for cloud in hcl.values() for b in cloud if b.type in keyed]


# Who may read each secret, as the Terraform's `secret_readers` local declares it: the PII salt the
# steps (runner, and SageMaker's job role on AWS) and the API; the API token the API alone.
SECRET_READERS = {
    "aws": (
        "{for s in var.runner_secrets : s => [local.runner_role, local.serving_role, "
        "var.sagemaker_role_name]}",
        "{(var.api_token_secret) = [local.serving_role]}",
    ),
    "gcp": (
        "{for s in var.runner_secrets : s => [google_service_account.runner.member, "
        "google_service_account.serving.member]}",
        "{(var.api_token_secret) = [google_service_account.serving.member]}",
    ),
    "azure": (
        "{for s in var.runner_secrets : s => {runner = azurerm_user_assigned_identity.runner."
        "principal_id, serving = azurerm_user_assigned_identity.serving.principal_id}}",
        "{(var.api_token_secret) = "
        "{serving = azurerm_user_assigned_identity.serving.principal_id}}",
    ),
}


def test_secrets_are_readable_by_the_runner_and_the_api_only(hcl: dict[str, list[Block]]) -> None:
    for cloud, (salt, token) in SECRET_READERS.items():
        readers = str(locals_of(INFRA / cloud)["secret_readers"])
        assert readers == f"${{merge({salt}, {token})}}", (cloud, readers)
    # AWS: every other principal is denied by each secret's resource policy
    policy = str(block(hcl["aws"], "aws_secretsmanager_secret_policy", "cirrus").body["policy"])
    assert 'Effect = "Deny"' in policy and "ArnNotEquals" in policy
    assert "local.secret_readers[each.key]" in policy
    # Google and Azure: grants are made per secret from the same map, nothing project-wide
    gcp = block(hcl["gcp"], "google_secret_manager_secret_iam_member", "readers").body
    assert gcp["for_each"] == "${local.secret_grants}"
    azure = block(hcl["azure"], "azurerm_role_assignment", "secret_readers").body
    assert azure["for_each"] == "${local.secret_grants}"
    assert "resource_versionless_id" in azure["scope"]


def test_the_prediction_log_expires_after_the_catalogs_retention(
    hcl: dict[str, list[Block]], tfvars: dict[str, dict[str, Any]], catalog: dict[str, Any]
) -> None:
    retention = catalog["prediction_log"]["retention_days"]
    assert {tfvars[cloud]["retention_days"] for cloud in tfvars} == {retention}
    expiring = "(var.prediction_log_prefix) = var.retention_days"
    for cloud in ("aws", "gcp"):
        call = block(hcl[cloud], "module", "bucket").body
        assert (
            expiring in call["expiring_prefixes"] and "var.data_bucket" in call["expiring_prefixes"]
        )
    (rule,) = block(hcl["aws"], "aws_s3_bucket_lifecycle_configuration", "this").body["dynamic"]
    content = rule["rule"]["content"][0]
    assert rule["rule"]["for_each"] == "${var.expiring_prefixes}"
    assert content["filter"][0]["prefix"] == "${rule.key}"
    assert content["expiration"][0]["days"] == "${rule.value}"
    (gcs,) = block(hcl["gcp"], "google_storage_bucket", "this").body["dynamic"]
    condition = gcs["lifecycle_rule"]["content"][0]["condition"][0]
    assert condition == {
        "age": "${lifecycle_rule.value}",
        "matches_prefix": ["${lifecycle_rule.key}"],
    }
    azure = block(hcl["azure"], "azurerm_storage_management_policy", "cirrus").body["rule"][0]
    assert azure["filters"][0]["prefix_match"] == [
        "${var.data_container}/${var.prediction_log_prefix}"
    ]
    deleted = azure["actions"][0]["base_blob"][0]
    assert deleted["delete_after_days_since_creation_greater_than"] == "${var.retention_days}"
