from infra.grpc_api.generated.snapearth.api.v1 import segmentation_pb2 as _segmentation_pb2
from infra.grpc_api.generated.snapearth.api.v2 import segmentation_pb2 as _segmentation_pb2_1
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor
