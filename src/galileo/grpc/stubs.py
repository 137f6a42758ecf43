"""Protobuf messages and gRPC stubs, generated from ``experiments.proto`` at import time.

grpcio-tools compiles the ``.proto`` in memory (``grpc.protos_and_services``): nothing generated
is written to the repository, and the stubs always match the ``.proto`` next to this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import grpc  # type: ignore[import-untyped]

PROTO_FILE: Final = Path(__file__).with_name("experiments.proto")
# resolved against sys.path, like a module: ``galileo/grpc/experiments.proto``
_PROTO_IMPORT_PATH: Final = "galileo/grpc/experiments.proto"

pb2: Any
pb2_grpc: Any
pb2, pb2_grpc = grpc.protos_and_services(_PROTO_IMPORT_PATH)

# the original Galileo's (0.x) ``experiment.ExperimentService``, served beside ours
LEGACY_PROTO_FILE: Final = Path(__file__).with_name("legacy_experiment.proto")
legacy_pb2: Any
legacy_pb2_grpc: Any
legacy_pb2, legacy_pb2_grpc = grpc.protos_and_services("galileo/grpc/legacy_experiment.proto")

__all__ = ["LEGACY_PROTO_FILE", "PROTO_FILE", "legacy_pb2", "legacy_pb2_grpc", "pb2", "pb2_grpc"]
