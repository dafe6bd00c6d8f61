"""gRPC service compatible with SnapEarth's DatabaseProductService (docs/grpc.md)."""
