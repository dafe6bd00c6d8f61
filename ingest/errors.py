"""Errors of the pipeline. Invalid input is never retried; transient failures are."""


class IngestError(RuntimeError):
    """Base of every pipeline error."""


class InvalidProductError(IngestError):
    """The product is unreadable, incomplete or inconsistent: retrying cannot help."""


class TransientError(IngestError):
    """A service was unavailable (database, Redis, network, model server): retry later."""
