"""Resources, prompts and completions of the hosted servers, passed through to the caller.

A caller sees the resources and prompts of every server version they may use at least one tool
of (after grants and token scopes), served by the same leased sandbox their tool calls use.
Prompts are named `<server-slug>.<prompt>` like tools; resource URIs are the servers' own, and
a read goes to the server that listed the URI (or whose template matches it). Resource reads
and prompt gets hand a server's content to the caller, so each leaves an audit record, written
before the answer as a tool call's is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import mcp_types as types
from mcp import Client
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from sandboxes.errors import SandboxError
from sandboxes.input_round import InputRound
from switchboard.services import Services
from toolhost.authentication import principal_of, revision_of, usable_tools
from toolhost.calls import CallPath, arguments_digest, lease_owner
from toolhost.hosted import HostedVersion
from toolhost.input_rounds import binding
from toolhost.naming import Naming
from toolhost.peer import CallerPeer
from toolhost.relayed import as_own
from toolhost.routing import LeaseOwner
from toolhost.toolserver import ToolServer

Context = ServerRequestContext[Services]
T = TypeVar("T", bound=types.Result)
R = TypeVar("R")
REQUEST_TIMEOUT = 30.0
logger = logging.getLogger(__name__)


class PassThrough:
    def __init__(self, calls: CallPath) -> None:
        self._calls = calls
        self._uris: dict[LeaseOwner, dict[str, int]] = {}
        """Lease owner -> resource URI -> the version that listed it."""

    def forget(self, owner: LeaseOwner) -> None:
        """Drop what a session that ended was shown."""
        self._uris.pop(owner, None)

    async def _versions(self, ctx: Context) -> list[HostedVersion]:
        ids = sorted({tool.version_id for tool in usable_tools(_scope(ctx)).values()})
        revision = revision_of(_scope(ctx))
        return [await self._calls.hosted(version_id, revision) for version_id in ids]

    async def _ask(
        self, ctx: Context, hosted: HostedVersion, what: str, call: Callable[[Any], Awaitable[T]]
    ) -> T:
        try:
            async with self._calls.router.lease(hosted, lease_owner(ctx)) as (sandbox, _):
                with sandbox.attached(CallerPeer(ctx)):
                    result: T = await sandbox.request(call, what, timeout=REQUEST_TIMEOUT)
                return as_own(result)
        except SandboxError as exc:
            raise MCPError(types.INTERNAL_ERROR, str(exc).split("\n---", 1)[0]) from exc

    async def _ask_in_rounds(
        self,
        ctx: Context,
        hosted: HostedVersion,
        what: str,
        params: types.InputResponseRequestParams,
        call: Callable[[Any, InputRound | None], Awaitable[T | types.InputRequiredResult]],
    ) -> T | types.InputRequiredResult:
        """`_ask` for a request a server may answer with questions (`toolhost.input_rounds`)."""
        rounds = self._calls.rounds
        bound_to = binding(principal_of(_scope(ctx)), what, hosted.version_id)
        input_round = rounds.of(ctx, params, bound_to)
        result = await self._ask(ctx, hosted, what, lambda c: call(c, input_round))
        if isinstance(result, types.InputRequiredResult):
            return rounds.asked(result, bound_to)
        return result

    async def _each(
        self, ctx: Context, what: str, capability: str, call: Callable[[Any], Awaitable[T]]
    ) -> list[tuple[HostedVersion, T]]:
        """`call` on every server the caller may use that offers `capability`, all at once, so
        the slowest server (not their sum) sets the wait; one that fails hides no other's."""
        versions = await self._versions(ctx)
        answers: list[T | None] = [None] * len(versions)

        async def answer(index: int, hosted: HostedVersion) -> None:
            if await self._offers(ctx, hosted, capability):
                answers[index] = await self._answer(ctx, hosted, what, call)

        async with anyio.create_task_group() as tasks:
            for index, hosted in enumerate(versions):
                tasks.start_soon(answer, index, hosted)
        return [(h, a) for h, a in zip(versions, answers, strict=True) if a is not None]

    async def _answer(
        self, ctx: Context, hosted: HostedVersion, what: str, call: Callable[[Any], Awaitable[T]]
    ) -> T | None:
        """`call`'s answer, or `None` (logged) when the server fails it or does not answer
        within `REQUEST_TIMEOUT`."""
        try:
            return await self._ask(ctx, hosted, what, call)
        except (MCPError, ValidationError) as exc:
            logger.warning("%s is left out of %s: %s", hosted.label, what, exc)
            return None

    async def list_resources(
        self, ctx: Context, _params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        resources = []
        listed = self._uris.setdefault(lease_owner(ctx), {})
        for hosted, result in await self._each(
            ctx, "resources/list", "resources", lambda c: c.list_resources(cache_mode="bypass")
        ):
            for resource in result.resources:
                listed[str(resource.uri)] = hosted.version_id
                resources.append(resource)
        return types.ListResourcesResult(resources=resources)

    async def list_resource_templates(
        self, ctx: Context, _params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        templates = []
        for _, result in await self._each(
            ctx,
            "resources/templates/list",
            "resources",
            lambda c: c.list_resource_templates(cache_mode="bypass"),
        ):
            templates += result.resource_templates
        return types.ListResourceTemplatesResult(resource_templates=templates)

    async def read_resource(
        self, ctx: Context, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult | types.InputRequiredResult:
        uri = str(params.uri)
        hosted = await self._owner_of(ctx, uri)

        def read(
            client: Client, input_round: InputRound | None
        ) -> Awaitable[types.ReadResourceResult | types.InputRequiredResult]:
            if input_round is None:
                return client.read_resource(uri, cache_mode="bypass")
            return client.session.read_resource(uri, **input_round.retry())

        return await self._audited(
            ctx,
            hosted,
            ("resource.read", f"{hosted.slug}:{uri}", {"uri": uri}),
            self._ask_in_rounds(ctx, hosted, f"resources/read {uri}", params, read),
        )

    async def _audited(
        self,
        ctx: Context,
        hosted: HostedVersion,
        what: tuple[str, str, dict[str, Any]],
        answer: Awaitable[R],
    ) -> R:
        """`answer`, once its record (`what`: action, target and detail, completed with the
        caller, the outcome and the duration) is durably in the audit log."""
        action, target, what_detail = what
        principal = principal_of(_scope(ctx))
        started = time.perf_counter()
        outcome, error_class = "ok", None
        try:
            result = await answer
            if isinstance(result, types.InputRequiredResult):
                outcome = "input_required"
            return result
        except MCPError as exc:
            outcome, error_class = "error", f"jsonrpc:{exc.error.code}"
            raise
        except BaseException as exc:
            outcome, error_class = "error", type(exc).__name__
            raise
        finally:
            if error_class is not None:
                what_detail = {**what_detail, "error_class": error_class}
            await self._calls.record(
                principal,
                hosted,
                action=action,
                target=target,
                outcome=outcome,
                started=started,
                detail=what_detail,
            )

    async def _owner_of(self, ctx: Context, uri: str) -> HostedVersion:
        versions = await self._versions(ctx)
        listed = self._uris.get(lease_owner(ctx), {}).get(uri)
        for hosted in versions:
            if hosted.version_id == listed:
                return hosted
        for hosted, result in await self._each(
            ctx,
            "resources/templates/list",
            "resources",
            lambda c: c.list_resource_templates(cache_mode="bypass"),
        ):
            if any(_matches(t.uri_template, uri) for t in result.resource_templates):
                return hosted
        offering = [h for h in versions if await self._offers(ctx, h, "resources")]
        if len(offering) == 1:
            return offering[0]
        raise MCPError(types.INVALID_PARAMS, f"Resource not found: {uri}", {"uri": uri})

    async def _offers(self, ctx: Context, hosted: HostedVersion, capability: str) -> bool:
        """A server that cannot start offers nothing (its tool calls say why), so it does not
        hide the other servers' resources and prompts."""
        try:
            async with self._calls.router.lease(hosted, lease_owner(ctx)) as (sandbox, _):
                return _offers(sandbox, capability)
        except SandboxError as exc:
            reason = str(exc).split("\n---", 1)[0]
            logger.warning("%s offers no %s now: %s", hosted.label, capability, reason)
            return False

    async def subscribe(
        self, ctx: Context, params: types.SubscribeRequestParams
    ) -> types.EmptyResult:
        """Handshake era only. Acknowledged; sandboxes are spoken to at 2026-07-28, which has no
        subscriptions, so updates a server sends on its own still reach the caller but are not
        requested from it."""
        await self._owner_of(ctx, str(params.uri))
        return types.EmptyResult()

    async def unsubscribe(
        self, ctx: Context, params: types.UnsubscribeRequestParams
    ) -> types.EmptyResult:
        return types.EmptyResult()

    async def set_logging_level(
        self, ctx: Context, params: types.SetLevelRequestParams
    ) -> types.EmptyResult:
        """Handshake era only: the level is kept for the session and asked of the servers with
        each call (2026-07-28 makes logging a per-request opt-in)."""
        self._calls.log_levels[lease_owner(ctx)] = params.level
        return types.EmptyResult()

    async def list_prompts(
        self, ctx: Context, _params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        naming = Naming.of(_scope(ctx))
        prompts = []
        for hosted, result in await self._each(
            ctx, "prompts/list", "prompts", lambda c: c.list_prompts(cache_mode="bypass")
        ):
            for prompt in result.prompts:
                exposed = naming.expose(hosted.slug, prompt.name)
                prompts.append(prompt.model_copy(update={"name": exposed}))
        return types.ListPromptsResult(prompts=prompts)

    async def get_prompt(
        self, ctx: Context, params: types.GetPromptRequestParams
    ) -> types.GetPromptResult | types.InputRequiredResult:
        hosted, own = await self._prompt(ctx, params.name)
        arguments = params.arguments
        detail: dict[str, Any] = {
            "prompt": own,
            "arguments_digest": arguments_digest(arguments or {}),
        }
        if hosted.audit_arguments:
            detail["arguments"] = arguments

        def asking(
            client: Client, input_round: InputRound | None
        ) -> Awaitable[types.GetPromptResult | types.InputRequiredResult]:
            if input_round is None:
                return client.get_prompt(own, arguments)
            return client.session.get_prompt(own, arguments, **input_round.retry())

        return await self._audited(
            ctx,
            hosted,
            ("prompt.get", f"{hosted.slug}.{own}", detail),
            self._ask_in_rounds(ctx, hosted, f"prompts/get {own}", params, asking),
        )

    async def _prompt(self, ctx: Context, name: str) -> tuple[HostedVersion, str]:
        naming = Naming.of(_scope(ctx))
        for hosted in await self._versions(ctx):
            own = naming.own(hosted.slug, name)
            if own is not None:
                return hosted, own
        raise MCPError(types.INVALID_PARAMS, f"Unknown prompt: {name}")

    async def complete(
        self, ctx: Context, params: types.CompleteRequestParams
    ) -> types.CompleteResult:
        ref = params.ref
        argument = {"name": params.argument.name, "value": params.argument.value}
        context = params.context.arguments if params.context else None
        if isinstance(ref, types.PromptReference):
            hosted, own = await self._prompt(ctx, ref.name)
            forwarded: types.PromptReference | types.ResourceTemplateReference = ref.model_copy(
                update={"name": own}
            )
        else:
            hosted, forwarded = await self._owner_of(ctx, ref.uri), ref
        return await self._ask(
            ctx, hosted, "completion/complete", lambda c: c.complete(forwarded, argument, context)
        )


def _scope(ctx: Context) -> Any:
    if ctx.request is None:
        raise MCPError(types.INTERNAL_ERROR, "the toolhost serves HTTP requests only")
    return ctx.request.scope


def _offers(sandbox: ToolServer, capability: str) -> bool:
    if sandbox.client is None:
        return False
    return getattr(sandbox.client.server_capabilities, capability, None) is not None


def _matches(template: str, uri: str) -> bool:
    """A URI template (RFC 6570 level 1) matches when its literal parts appear in order."""
    position = 0
    literals = [part.split("}", 1)[-1] for part in template.split("{")]
    for index, literal in enumerate(literals):
        found = uri.find(literal, position)
        if found < 0 or (index == 0 and found != 0):
            return False
        position = found + len(literal)
    return position == len(uri) or literals[-1] == ""
