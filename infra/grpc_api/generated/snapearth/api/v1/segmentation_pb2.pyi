import datetime

from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Raster(_message.Message):
    __slots__ = ("height", "width", "data")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    height: int
    width: int
    data: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, height: _Optional[int] = ..., width: _Optional[int] = ..., data: _Optional[_Iterable[int]] = ...) -> None: ...

class ListSegmentationRequest(_message.Message):
    __slots__ = ("wkt", "start_date", "end_date", "product_ids", "categories", "n_results", "overview_level")
    WKT_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_IDS_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    N_RESULTS_FIELD_NUMBER: _ClassVar[int]
    OVERVIEW_LEVEL_FIELD_NUMBER: _ClassVar[int]
    wkt: str
    start_date: _timestamp_pb2.Timestamp
    end_date: _timestamp_pb2.Timestamp
    product_ids: _containers.RepeatedScalarFieldContainer[str]
    categories: _containers.RepeatedScalarFieldContainer[str]
    n_results: int
    overview_level: int
    def __init__(self, wkt: _Optional[str] = ..., start_date: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_date: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., product_ids: _Optional[_Iterable[str]] = ..., categories: _Optional[_Iterable[str]] = ..., n_results: _Optional[int] = ..., overview_level: _Optional[int] = ...) -> None: ...

class SearchSegmentationRequest(_message.Message):
    __slots__ = ("query", "n_results", "descriptor_set", "overview_level", "wkt")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    N_RESULTS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTOR_SET_FIELD_NUMBER: _ClassVar[int]
    OVERVIEW_LEVEL_FIELD_NUMBER: _ClassVar[int]
    WKT_FIELD_NUMBER: _ClassVar[int]
    query: str
    n_results: int
    descriptor_set: _descriptor_pb2.FileDescriptorSet
    overview_level: int
    wkt: str
    def __init__(self, query: _Optional[str] = ..., n_results: _Optional[int] = ..., descriptor_set: _Optional[_Union[_descriptor_pb2.FileDescriptorSet, _Mapping]] = ..., overview_level: _Optional[int] = ..., wkt: _Optional[str] = ...) -> None: ...

class SegmentationResponse(_message.Message):
    __slots__ = ("wkt", "segmentation", "cloud_mask", "product_id", "quicklook", "item_id", "crs", "transform", "datetime")
    WKT_FIELD_NUMBER: _ClassVar[int]
    SEGMENTATION_FIELD_NUMBER: _ClassVar[int]
    CLOUD_MASK_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    QUICKLOOK_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    CRS_FIELD_NUMBER: _ClassVar[int]
    TRANSFORM_FIELD_NUMBER: _ClassVar[int]
    DATETIME_FIELD_NUMBER: _ClassVar[int]
    wkt: str
    segmentation: Raster
    cloud_mask: Raster
    product_id: str
    quicklook: str
    item_id: str
    crs: str
    transform: _containers.RepeatedScalarFieldContainer[float]
    datetime: _timestamp_pb2.Timestamp
    def __init__(self, wkt: _Optional[str] = ..., segmentation: _Optional[_Union[Raster, _Mapping]] = ..., cloud_mask: _Optional[_Union[Raster, _Mapping]] = ..., product_id: _Optional[str] = ..., quicklook: _Optional[str] = ..., item_id: _Optional[str] = ..., crs: _Optional[str] = ..., transform: _Optional[_Iterable[float]] = ..., datetime: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
