"""The provider's gRPC face: what the Pulumi engine calls, translated to plain dicts.

Like the official pulumi-docker plugin, Configure accepts no secrets, resources or
outputs: the engine then sends secrets as plain values and marks the outputs secret
again by top-level key, and unknown values arrive as the UNKNOWN marker string.
"""

from __future__ import annotations

import sys
from concurrent import futures
from typing import Any

import grpc
from google.protobuf import empty_pb2, struct_pb2
from google.protobuf.json_format import MessageToDict
from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc

from providers.docker_standin import NAME, VERSION
from providers.docker_standin.diffing import check, diff
from providers.docker_standin.engine import Engine, ProviderError
from providers.docker_standin.schema import CONTAINER, FIELDS, PROVIDER_CONFIG, UNKNOWN

Props = dict[str, Any]
KIND = provider_pb2.PropertyDiff.Kind
# Computed outputs, unknown until the resource exists (preview of a create).
COMPUTED = {
    "docker:index/remoteImage:RemoteImage": ("imageId", "repoDigest"),
    "docker:index/container:Container": ("networkDatas", "exitCode"),
    "docker:index/network:Network": ("scope",),
    "docker:index/volume:Volume": ("mountpoint",),
}


def to_dict(struct: struct_pb2.Struct) -> Props:
    return MessageToDict(struct, preserving_proto_field_name=True)


def to_struct(props: Props) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update({k: v for k, v in props.items() if v is not None})
    return out


def resource_type(urn: str, given: str = "") -> str:
    """`urn:pulumi:stack::project::parent$type::name` -> type."""
    return given or urn.split("::")[2].split("$")[-1]


class Provider(provider_pb2_grpc.ResourceProviderServicer):
    def __init__(self) -> None:
        self.host: str | None = None
        self.cert_path: str | None = None
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = Engine(self.host, self.cert_path)
        return self._engine

    # --- plugin ------------------------------------------------------------------------
    def GetPluginInfo(self, request: Any, context: Any) -> Any:
        return plugin_pb2.PluginInfo(version=VERSION)

    def CheckConfig(self, request: Any, context: Any) -> Any:
        news = to_dict(request.news)
        failures = [
            provider_pb2.CheckFailure(
                property=key,
                reason=(
                    f"docker:{key} is not implemented by {NAME}; only docker:host and "
                    "docker:certPath are"
                ),
            )
            for key in sorted(news)
            if key not in PROVIDER_CONFIG and not key.startswith("__")
        ]
        return provider_pb2.CheckResponse(inputs=request.news, failures=failures)

    def DiffConfig(self, request: Any, context: Any) -> Any:
        olds, news = to_dict(request.olds), to_dict(request.news)
        changed = [k for k in ("host", "certPath") if olds.get(k) != news.get(k)]
        return provider_pb2.DiffResponse(
            changes=provider_pb2.DiffResponse.DIFF_SOME
            if changed
            else provider_pb2.DiffResponse.DIFF_NONE,
            diffs=changed,
        )

    def Configure(self, request: Any, context: Any) -> Any:
        args = to_dict(request.args)
        host = args.get("host") or request.variables.get("docker:host")
        self.host = host if host and host != UNKNOWN else None
        cert_path = args.get("certPath") or request.variables.get("docker:certPath")
        self.cert_path = cert_path if cert_path and cert_path != UNKNOWN else None
        return provider_pb2.ConfigureResponse(
            supportsPreview=True, acceptSecrets=False, acceptResources=False
        )

    def Cancel(self, request: Any, context: Any) -> Any:
        return empty_pb2.Empty()

    # --- resources ---------------------------------------------------------------------
    def Check(self, request: Any, context: Any) -> Any:
        type_ = resource_type(request.urn, request.type)
        inputs, failures = check(type_, to_dict(request.news))
        return provider_pb2.CheckResponse(
            inputs=to_struct(inputs),
            failures=[
                provider_pb2.CheckFailure(property=f.property, reason=f.reason) for f in failures
            ],
        )

    def Diff(self, request: Any, context: Any) -> Any:
        type_ = resource_type(request.urn, request.type)
        result = diff(
            type_, to_dict(request.olds), to_dict(request.news), tuple(request.ignoreChanges)
        )
        kinds = {
            "add": (KIND.ADD, KIND.ADD_REPLACE),
            "delete": (KIND.DELETE, KIND.DELETE_REPLACE),
            "update": (KIND.UPDATE, KIND.UPDATE_REPLACE),
        }
        detailed = {
            key: provider_pb2.PropertyDiff(kind=kinds[kind][key in result.replaces], inputDiff=True)
            for key, kind in result.kinds.items()
        }
        return provider_pb2.DiffResponse(
            changes=provider_pb2.DiffResponse.DIFF_SOME
            if result.changed
            else provider_pb2.DiffResponse.DIFF_NONE,
            replaces=result.replaces,
            diffs=result.changed,
            detailedDiff=detailed,
            hasDetailedDiff=True,
            # pulumi-docker marks every Container delete-before-replace: fixed names.
            deleteBeforeReplace=type_ == CONTAINER and bool(result.replaces),
        )

    def Create(self, request: Any, context: Any) -> Any:
        type_ = resource_type(request.urn, request.type)
        inputs = to_dict(request.properties)
        if request.preview:
            computed = dict.fromkeys(COMPUTED.get(type_, ()), UNKNOWN)
            return provider_pb2.CreateResponse(id="", properties=to_struct({**inputs, **computed}))
        try:
            id_, props = self.engine.create(type_, inputs, request.timeout)
        except ProviderError as exc:
            context.abort(grpc.StatusCode.UNKNOWN, str(exc))
        return provider_pb2.CreateResponse(id=id_, properties=to_struct(props))

    def Read(self, request: Any, context: Any) -> Any:
        type_ = resource_type(request.urn, request.type)
        props = to_dict(request.properties)
        inputs = to_dict(request.inputs)
        try:
            found = self.engine.read(type_, request.id, props)
        except ProviderError as exc:
            context.abort(grpc.StatusCode.UNKNOWN, str(exc))
        if found is None:  # an empty id removes the resource from the state
            return provider_pb2.ReadResponse(id="")
        fields = FIELDS.get(type_, {})
        if not inputs:  # an import: the inputs are what was read
            inputs = {k: v for k, v in found.items() if k in fields}
        return provider_pb2.ReadResponse(
            id=request.id, properties=to_struct(found), inputs=to_struct(inputs)
        )

    def Update(self, request: Any, context: Any) -> Any:
        type_ = resource_type(request.urn, request.type)
        olds, news = to_dict(request.olds), to_dict(request.news)
        computed = {k: olds.get(k) for k in COMPUTED.get(type_, ())}
        if request.preview or type_ != CONTAINER:
            return provider_pb2.UpdateResponse(properties=to_struct({**computed, **news}))
        try:
            props = self.engine.update_container(request.id, olds, news)
        except ProviderError as exc:
            context.abort(grpc.StatusCode.UNKNOWN, str(exc))
        return provider_pb2.UpdateResponse(properties=to_struct(props))

    def Delete(self, request: Any, context: Any) -> Any:
        type_ = resource_type(request.urn, request.type)
        try:
            self.engine.delete(type_, request.id, to_dict(request.properties))
        except ProviderError as exc:
            context.abort(grpc.StatusCode.UNKNOWN, str(exc))
        return empty_pb2.Empty()


def serve() -> None:
    """Start on a free local port and print it: the engine reads the first stdout line."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=32),
        options=[
            ("grpc.max_receive_message_length", 400 * 1024 * 1024),
            ("grpc.max_send_message_length", 400 * 1024 * 1024),
        ],
    )
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(Provider(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    server.wait_for_termination()
