"""Python modules for the protos the gRPC tests use (the Echo test service, google.rpc.Status and Dapr's
runtime API from proto/dapr), compiled with protoc once per process into a temporary directory, and
hand-written stubs on grpc's generic API (grpc_tools is not available here).

A process started with SKIFF_TEST_PROTO_GEN pointing at an already generated directory (the harness
does this for the echo app) imports from there instead of running protoc again."""
import atexit
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import grpc

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
TEST_PROTOS = HERE / "protos"
DAPR_PROTOS = REPO / "proto"
GEN_ENV = "SKIFF_TEST_PROTO_GEN"

# Large enough for the 8 MiB messages of the proxy tests; gRPC's default is 4 MiB.
MAX_MESSAGE = 64 * 1024 * 1024
CHANNEL_OPTIONS = [("grpc.max_receive_message_length", MAX_MESSAGE),
                   ("grpc.max_send_message_length", MAX_MESSAGE)]

ECHO_SERVICE = "skiff.test.v1.Echo"
DAPR_SERVICE = "dapr.proto.runtime.v1.Dapr"
APP_CALLBACK_SERVICE = "dapr.proto.runtime.v1.AppCallback"

_loaded = None


def _protoc(proto_path, files, out):
    protoc = shutil.which("protoc") or "/usr/bin/protoc"
    run = subprocess.run([protoc, f"--proto_path={proto_path}", f"--python_out={out}", *files],
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"protoc failed for {files}: {run.stderr}")


def _generate():
    given = os.environ.get(GEN_ENV)
    if given and (Path(given) / "echo_pb2.py").exists():
        return Path(given)
    out = Path(tempfile.mkdtemp(prefix="skiff-test-protos-"))
    atexit.register(shutil.rmtree, out, True)
    _protoc(TEST_PROTOS, ["echo.proto", "status.proto"], out)
    dapr = sorted(str(p.relative_to(DAPR_PROTOS)) for p in (DAPR_PROTOS / "dapr").rglob("*.proto"))
    if not dapr:
        raise RuntimeError(f"no Dapr protos under {DAPR_PROTOS / 'dapr'}")
    _protoc(DAPR_PROTOS, dapr, out)
    return out


def load():
    """The generated modules: .echo (Msg), .status (google.rpc.Status), .common (dapr common.v1),
    .runtime (dapr runtime.v1 dapr.proto), .appcallback and .gen_dir."""
    global _loaded
    if _loaded is None:
        gen = _generate()
        if str(gen) not in sys.path:
            sys.path.insert(0, str(gen))
        _loaded = SimpleNamespace(
            gen_dir=gen,
            echo=importlib.import_module("echo_pb2"),
            status=importlib.import_module("status_pb2"),
            common=importlib.import_module("dapr.proto.common.v1.common_pb2"),
            runtime=importlib.import_module("dapr.proto.runtime.v1.dapr_pb2"),
            appcallback=importlib.import_module("dapr.proto.runtime.v1.appcallback_pb2"),
        )
    return _loaded


def channel(port):
    """An insecure (h2c) channel to 127.0.0.1:port that allows large messages; close it when done."""
    return grpc.insecure_channel(f"127.0.0.1:{port}", options=CHANNEL_OPTIONS)


def echo_stubs(ch):
    """Multi-callables for the four methods of skiff.test.v1.Echo."""
    msg = load().echo.Msg
    kw = dict(request_serializer=msg.SerializeToString, response_deserializer=msg.FromString)
    return SimpleNamespace(
        Unary=ch.unary_unary(f"/{ECHO_SERVICE}/Unary", **kw),
        ClientStream=ch.stream_unary(f"/{ECHO_SERVICE}/ClientStream", **kw),
        ServerStream=ch.unary_stream(f"/{ECHO_SERVICE}/ServerStream", **kw),
        Bidi=ch.stream_stream(f"/{ECHO_SERVICE}/Bidi", **kw),
    )


def dapr_stubs(ch):
    """Multi-callables for the Dapr methods skiff serves (InvokeService, GetMetadata)."""
    p = load()
    return SimpleNamespace(
        InvokeService=ch.unary_unary(f"/{DAPR_SERVICE}/InvokeService",
                                     request_serializer=p.runtime.InvokeServiceRequest.SerializeToString,
                                     response_deserializer=p.common.InvokeResponse.FromString),
        GetMetadata=ch.unary_unary(f"/{DAPR_SERVICE}/GetMetadata",
                                   request_serializer=p.runtime.GetMetadataRequest.SerializeToString,
                                   response_deserializer=p.runtime.GetMetadataResponse.FromString),
    )


def raw_unary(ch, method):
    """A unary multi-callable for any full method name ('/pkg.Svc/Method') that sends and returns bytes."""
    return ch.unary_unary(method, request_serializer=lambda b: b, response_deserializer=lambda b: b)


def metadata(md):
    """Metadata (a sequence of (key, value)) as a dict; binary (-bin) values stay bytes."""
    return {k: v for k, v in (md or ())}


def status_details(rpc_error):
    """The google.rpc.Status carried in grpc-status-details-bin of a failed call, or None."""
    raw = metadata(rpc_error.trailing_metadata()).get("grpc-status-details-bin")
    if raw is None:
        return None
    return load().status.Status.FromString(raw)
