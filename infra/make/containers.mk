# The images and the compose stack under Podman (docs/deployment.md, "Podman"): no registry
# and no Docker engine needed. infra/deploy/podman.py installs podman, runc and debootstrap
# from Debian when missing (apt, as root or with sudo -n), makes the base image once with
# debootstrap and builds the five images on it; the test runs compose.yaml (with
# compose.podman.yaml) and a product through the containers, then removes them.
.PHONY: containers test-containers

containers: install
	$(BIN)/python -m infra.deploy.podman build

test-containers: install
	$(BIN)/earthsig stack up postgres redis
	EARTHSIG_CONTAINERS_TEST=1 EARTHSIG_CONTAINERS_REPORT=.earthsig/containers-report.json \
		$(BIN)/pytest -s tests/e2e/test_containers.py
