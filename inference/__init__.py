"""The model service: model repository, backends, sliding-window inference, reference models."""
