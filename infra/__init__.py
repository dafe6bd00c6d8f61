"""Composition and deployment: the local stack, deployment files and the ``earthsig`` CLI."""
