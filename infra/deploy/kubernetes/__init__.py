"""Kubernetes manifests of EarthSignature (docs/deploy-kubernetes.md) and their renderer."""
