from infra.grpc_api.generated.geobufproto import geobuf_pb2 as _geobuf_pb2
from infra.grpc_api.generated.snapearth.api.v1 import segmentation_pb2 as _segmentation_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateProductRequest(_message.Message):
    __slots__ = ("data", "segmentation", "cloud_mask")
    DATA_FIELD_NUMBER: _ClassVar[int]
    SEGMENTATION_FIELD_NUMBER: _ClassVar[int]
    CLOUD_MASK_FIELD_NUMBER: _ClassVar[int]
    data: _geobuf_pb2.Data
    segmentation: _segmentation_pb2.Raster
    cloud_mask: _segmentation_pb2.Raster
    def __init__(self, data: _Optional[_Union[_geobuf_pb2.Data, _Mapping]] = ..., segmentation: _Optional[_Union[_segmentation_pb2.Raster, _Mapping]] = ..., cloud_mask: _Optional[_Union[_segmentation_pb2.Raster, _Mapping]] = ...) -> None: ...

class CreateProductResponse(_message.Message):
    __slots__ = ("item_id",)
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    def __init__(self, item_id: _Optional[str] = ...) -> None: ...
