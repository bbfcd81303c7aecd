"""The Stripe API subset: OpenAPI 3.0 in YAML, form-encoded bodies, nullable, anyOf, OAuth."""

from __future__ import annotations

import functools
from pathlib import Path

from registry.openapi import OpenAPIImport, read_openapi, tools_from_openapi
from registry.tooldefs import ToolDefinition

FIXTURE = Path(__file__).parents[2] / "fixtures" / "openapi" / "stripe.yaml"


@functools.cache
def stripe() -> OpenAPIImport:
    return tools_from_openapi(read_openapi(FIXTURE), FIXTURE.name)


def tool(name: str) -> ToolDefinition:
    return next(t for t in stripe().tools if t.name == name)


def test_unquoted_date_version_stays_a_string() -> None:
    result = stripe()
    assert result.version == "2024-06-20"
    assert result.servers == ["https://api.stripe.com"]  # trailing slash dropped
    assert result.egress_hosts == ["api.stripe.com"]
    assert sorted(result.security_schemes) == ["basicAuth", "bearerAuth", "connectOAuth"]


def test_names_are_operation_ids_in_document_order() -> None:
    assert [t.name for t in stripe().tools] == [
        "GetBalance",
        "GetCharges",
        "PostCharges",
        "GetChargesCharge",
        "GetCustomers",
        "PostCustomers",
        "GetCustomersSearch",
        "GetCustomersCustomer",
        "PostCustomersCustomer",
        "DeleteCustomersCustomer",
        "PostPaymentIntents",
        "GetPaymentIntentsIntent",
        "PostPaymentIntentsIntentConfirm",
        "PostRefunds",
        "GetRefundsRefund",
    ]


def test_form_body_is_the_body_property() -> None:
    definition = tool("PostPaymentIntents")
    schema = definition.tool.input_schema
    assert list(schema["properties"]) == ["Idempotency-Key", "body"]
    assert schema["required"] == ["body"]
    body = schema["properties"]["body"]
    assert body["required"] == ["amount", "currency"]
    assert body["additionalProperties"] is False
    assert definition.binding is not None
    assert definition.binding["body"] == {
        "property": "body",
        "contentType": "application/x-www-form-urlencoded",
    }
    assert definition.binding["parameters"] == [
        {"name": "Idempotency-Key", "in": "header", "property": "Idempotency-Key"}
    ]


def test_empty_form_bodies_on_reads_are_dropped() -> None:
    for name in ("GetCustomers", "GetChargesCharge", "DeleteCustomersCustomer"):
        definition = tool(name)
        assert "body" not in definition.tool.input_schema["properties"]
        assert definition.binding is not None
        assert definition.binding["body"] is None


def test_any_of_and_metadata_refs_go_to_defs() -> None:
    schema = tool("PostCustomers").tool.input_schema
    body = schema["properties"]["body"]
    assert body["properties"]["metadata"] == {"$ref": "#/$defs/metadata_param"}
    assert schema["$defs"]["metadata_param"]["anyOf"][1] == {"enum": [""], "type": "string"}
    assert body["properties"]["address"]["anyOf"][0]["title"] == "optional_fields_address"


def test_deep_object_parameters_keep_style_and_explode() -> None:
    definition = tool("GetCharges")
    assert definition.binding is not None
    created = definition.binding["parameters"][0]
    assert created == {
        "name": "created",
        "in": "query",
        "property": "created",
        "style": "deepObject",
        "explode": True,
    }
    limit = definition.tool.input_schema["properties"]["limit"]
    assert (limit["minimum"], limit["maximum"]) == (1, 100)


def test_boolean_exclusive_minimum_becomes_numeric() -> None:
    body = tool("PostRefunds").tool.input_schema["properties"]["body"]
    amount = body["properties"]["amount"]
    assert (amount["type"], amount["exclusiveMinimum"]) == ("integer", 0)
    assert "minimum" not in amount


def test_nullable_fields_and_extensions_in_output() -> None:
    output = tool("GetChargesCharge").tool.output_schema
    assert output is not None
    assert "x-resourceId" not in output
    customer = output["properties"]["customer"]
    assert "x-expansionResources" not in customer
    assert customer["description"] == "ID of the customer this charge is for if one exists."
    assert customer["anyOf"][1] == {"type": "null"}
    assert customer["anyOf"][0]["anyOf"][1:] == [
        {"$ref": "#/$defs/customer"},
        {"$ref": "#/$defs/deleted_customer"},
    ]
    assert output["$defs"]["customer"]["properties"]["email"]["type"] == ["string", "null"]
    reason = output["$defs"]["refund"]["properties"]["reason"]
    assert reason["type"] == ["string", "null"]
    assert reason["enum"][-1] is None


def test_mutually_recursive_charge_and_refund_are_finite() -> None:
    output = tool("PostRefunds").tool.output_schema
    assert output is not None
    assert output["properties"]["charge"]["anyOf"][0]["anyOf"][1] == {"$ref": "#/$defs/charge"}
    refunds = output["$defs"]["charge"]["properties"]["refunds"]
    assert refunds["properties"]["data"]["items"] == {"$ref": "#/$defs/refund"}
    assert "refund" in output["$defs"]


def test_any_of_response_is_wrapped() -> None:
    definition = tool("GetCustomersCustomer")
    assert definition.binding is not None
    assert definition.binding["wrapResult"] is True
    output = definition.tool.output_schema
    assert output is not None
    assert output["properties"]["result"]["anyOf"] == [
        {"$ref": "#/$defs/customer"},
        {"$ref": "#/$defs/deleted_customer"},
    ]


def test_list_response_is_an_object_as_is() -> None:
    output = tool("GetCustomers").tool.output_schema
    assert output is not None
    assert output["title"] == "CustomerResourceCustomerList"
    assert "x-expandableFields" not in output
    assert output["properties"]["data"]["items"] == {"$ref": "#/$defs/customer"}


def test_scopes_come_from_the_first_requirement() -> None:
    balance = tool("GetBalance")
    assert balance.scopes == ["read_only"]
    assert balance.binding is not None
    assert balance.binding["security"] == ["connectOAuth"]
    assert tool("PostRefunds").scopes == ["read_write"]
    assert tool("GetRefundsRefund").scopes == ["read_only", "read_write"]
    customers = tool("GetCustomers")
    assert customers.scopes == []  # document-level basicAuth
    assert customers.binding is not None
    assert customers.binding["security"] == ["basicAuth"]


def test_deprecated_operation_is_noted() -> None:
    definition = tool("PostCharges").tool
    assert definition.title is None
    assert definition.description is not None
    assert definition.description.startswith("<p>This method is no longer recommended")
    assert "Deprecated" in definition.description


def test_annotations_for_post_and_delete() -> None:
    post = tool("PostCustomers").tool.annotations
    assert post is not None
    assert (post.read_only_hint, post.destructive_hint, post.idempotent_hint) == (
        False,
        None,
        False,
    )
    delete = tool("DeleteCustomersCustomer").tool.annotations
    assert delete is not None
    assert delete.destructive_hint is True
