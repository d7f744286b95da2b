#!/usr/bin/env python3
"""An off-the-shelf client of tether's health and reflection services: Debian's grpcio
(python3-grpcio) with stubs generated, at run time, by grpc_tools.protoc (python3-grpc-tools)
from the standard grpc/health/v1/health.proto and grpc/reflection/v1/reflection.proto that
Debian's grpc-proto package ships in /usr/share/grpc-proto. Nothing of tether is used: not its
protos, not its SDK, not the npm packages the daemon serves these with.

Usage:
  grpc_health_probe.py TARGET [--ca FILE] [--service NAME] check
  grpc_health_probe.py TARGET [--ca FILE] [--service NAME] watch
  grpc_health_probe.py TARGET [--ca FILE] reflect [--describe SYMBOL ...]

TARGET is HOST:PORT (TLS, verified against --ca; the CA is private and pinned, so the host
name checked is "localhost", which every tether server certificate carries) or unix:/PATH
(plain, for the admin socket). Each result is one JSON line on stdout:
  check:   {"status": "SERVING"} or {"code": "NOT_FOUND", "details": "..."}
  watch:   {"status": ...} per message as it arrives, then {"end": "UNAVAILABLE", "details": ...}
  reflect: {"services": [...]} or {"code": "UNIMPLEMENTED"}; then per --describe SYMBOL
           {"symbol": S, "found": true, "services": [services in the files returned]} or
           {"symbol": S, "found": false, "error": CODE}
Exits 0 when it could ask (whatever the answer), 2 when it could not set itself up.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile

import grpc

PROTO_ROOT = "/usr/share/grpc-proto"
PROTOS = ["grpc/health/v1/health.proto", "grpc/reflection/v1/reflection.proto"]


def out(obj: dict) -> None:
    print(json.dumps(obj), flush=True)


def stubs(where: str):
    """Generate the Python stubs from Debian's standard protos into `where` and import them."""
    import shutil

    from grpc_tools import protoc  # python3-grpc-tools

    # Each proto copied flat (health.proto, reflection.proto): the generated modules then
    # import each other by plain names, not as grpc.health..., which the real grpc shadows.
    # Only the proto's package (grpc.health.v1) is on the wire, not its file name.
    for proto in PROTOS:
        path = os.path.join(PROTO_ROOT, proto)
        if not os.path.exists(path):
            print(f"{path} is missing (apt-get install grpc-proto)", file=sys.stderr)
            sys.exit(2)
        shutil.copy(path, os.path.join(where, os.path.basename(proto)))
        rc = protoc.main(["protoc", f"-I{where}", f"--python_out={where}", f"--grpc_python_out={where}", os.path.join(where, os.path.basename(proto))])
        if rc != 0:
            print(f"protoc failed on {proto} ({rc})", file=sys.stderr)
            sys.exit(2)
    sys.path.insert(0, where)
    return tuple(importlib.import_module(m) for m in ["health_pb2", "health_pb2_grpc", "reflection_pb2", "reflection_pb2_grpc"])


def channel(target: str, ca: str | None) -> grpc.Channel:
    if target.startswith("unix:"):
        return grpc.insecure_channel(target)
    if not ca:
        print("a TLS target needs --ca FILE", file=sys.stderr)
        sys.exit(2)
    with open(ca, "rb") as f:
        creds = grpc.ssl_channel_credentials(root_certificates=f.read())
    return grpc.secure_channel(target, creds, options=[("grpc.ssl_target_name_override", "localhost")])


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("target")
    p.add_argument("--ca")
    p.add_argument("--service", default="")
    p.add_argument("mode", choices=["check", "watch", "reflect"])
    p.add_argument("--describe", action="append", default=[])
    a = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="health-stubs-") as where:
        health_pb2, health_grpc, reflection_pb2, reflection_grpc = stubs(where)
        names = {v.number: v.name for v in health_pb2.HealthCheckResponse.ServingStatus.DESCRIPTOR.values}
        with channel(a.target, a.ca) as ch:
            if a.mode == "check":
                try:
                    r = health_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=a.service), timeout=10)
                    out({"status": names[r.status]})
                except grpc.RpcError as e:
                    out({"code": e.code().name, "details": e.details()})
            elif a.mode == "watch":
                try:
                    for r in health_grpc.HealthStub(ch).Watch(health_pb2.HealthCheckRequest(service=a.service)):
                        out({"status": names[r.status]})
                    out({"end": "OK", "details": ""})
                except grpc.RpcError as e:
                    out({"end": e.code().name, "details": e.details()})
            else:
                stub = reflection_grpc.ServerReflectionStub(ch)
                reqs = [reflection_pb2.ServerReflectionRequest(list_services="*")]
                reqs += [reflection_pb2.ServerReflectionRequest(file_containing_symbol=s) for s in a.describe]
                from google.protobuf import descriptor_pb2

                try:
                    answers = list(stub.ServerReflectionInfo(iter(reqs), timeout=10))
                except grpc.RpcError as e:
                    out({"code": e.code().name, "details": e.details()})
                    return 0
                out({"services": sorted(s.name for s in answers[0].list_services_response.service)})
                for sym, r in zip(a.describe, answers[1:]):
                    if r.HasField("error_response"):
                        code = next(c.name for c in grpc.StatusCode if c.value[0] == r.error_response.error_code)
                        out({"symbol": sym, "found": False, "error": code})
                        continue
                    services = []
                    for raw in r.file_descriptor_response.file_descriptor_proto:
                        fd = descriptor_pb2.FileDescriptorProto.FromString(raw)
                        services += [f"{fd.package}.{s.name}" for s in fd.service]
                    out({"symbol": sym, "found": True, "services": sorted(services)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
