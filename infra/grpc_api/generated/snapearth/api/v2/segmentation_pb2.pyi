import datetime

from infra.grpc_api.generated.geobufproto import geobuf_pb2 as _geobuf_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SegmentationResponse(_message.Message):
    __slots__ = ("wkt", "polygons", "product_id", "quicklook", "item_id", "datetime")
    WKT_FIELD_NUMBER: _ClassVar[int]
    POLYGONS_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    QUICKLOOK_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    DATETIME_FIELD_NUMBER: _ClassVar[int]
    wkt: str
    polygons: _geobuf_pb2.Data
    product_id: str
    quicklook: str
    item_id: str
    datetime: _timestamp_pb2.Timestamp
    def __init__(self, wkt: _Optional[str] = ..., polygons: _Optional[_Union[_geobuf_pb2.Data, _Mapping]] = ..., product_id: _Optional[str] = ..., quicklook: _Optional[str] = ..., item_id: _Optional[str] = ..., datetime: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
