"""Errors of the model service."""


class InferenceError(RuntimeError):
    """Base of every inference error."""


class ModelNotFoundError(InferenceError):
    """The model (or the version) is not in the model repository."""


class BackendUnavailableError(InferenceError):
    """The backend cannot be reached right now; retrying later may succeed."""


class InputMismatchError(InferenceError):
    """The input does not match what the model's MLM document says it takes."""
