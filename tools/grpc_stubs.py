"""Python gRPC stubs for TorchServe's inference APIs, generated from the `.proto` files inside the installed wheel.

TorchServe ships its protos only inside `ts/frontend/model-server.jar` (folder `proto/`); no copy is committed here.

    python -m tools.grpc_stubs                 # writes build/grpc/{inference,open_inference_grpc}_pb2*.py

    from tools.grpc_stubs import load_stubs
    stubs = load_stubs()                       # generates on first use, then imports
    stubs.inference_pb2_grpc.InferenceAPIsServiceStub(channel)
    stubs.open_inference_grpc_pb2_grpc.GRPCInferenceServiceStub(channel)

`inference.proto` imports `google/rpc/status.proto`, which comes from `googleapis-common-protos` (its compiled
module too, so the generated code imports it from there).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "build" / "grpc"
PROTOS = ("inference.proto", "open_inference_grpc.proto")
MODULES = ("inference_pb2", "inference_pb2_grpc", "open_inference_grpc_pb2", "open_inference_grpc_pb2_grpc")


def jar_path() -> Path:
    import ts

    return Path(ts.__file__).parent / "frontend" / "model-server.jar"


def generate(out: Path = DEFAULT_OUT) -> Path:
    """Extract the protos from the jar and run grpcio-tools' protoc on them; returns `out`."""
    import google.rpc.status_pb2
    import grpc_tools
    from grpc_tools import protoc

    protos = out / "proto"
    protos.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(jar_path()) as jar:
        for name in PROTOS:
            (protos / name).write_bytes(jar.read(f"proto/{name}"))
    includes = [protos, Path(grpc_tools.__file__).parent / "_proto", Path(google.rpc.status_pb2.__file__).parents[2]]
    arguments = ["grpc_tools.protoc", *(f"-I{path}" for path in includes)]
    arguments += [f"--python_out={out}", f"--grpc_python_out={out}", *(str(protos / name) for name in PROTOS)]
    if protoc.main(arguments) != 0:
        raise RuntimeError(f"protoc failed on {', '.join(PROTOS)} from {jar_path()}")
    return out


def load_stubs(out: Path = DEFAULT_OUT) -> SimpleNamespace:
    """The four generated modules (generated first if any is missing)."""
    if not all((out / f"{module}.py").is_file() for module in MODULES):
        generate(out)
    if str(out) not in sys.path:
        sys.path.insert(0, str(out))  # the generated *_pb2_grpc modules import their *_pb2 by top-level name
    return SimpleNamespace(**{module: importlib.import_module(module) for module in MODULES})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    print(generate(parser.parse_args().out))


if __name__ == "__main__":
    main()
