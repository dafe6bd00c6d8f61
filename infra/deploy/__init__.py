"""Production deployment: one Dockerfile per service, the compose file, container health checks.

The files beside this module are package data (``infra = ["deploy/*"]``): an installed
EarthSignature carries the deployment it was tested with. See docs/deployment.md.
"""
