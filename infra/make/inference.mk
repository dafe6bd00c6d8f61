# The model service's install steps (included by the Makefile).
#
# The local Triton server runs from its own venv: nvidia-pytriton 0.7 pins numpy < 2, the
# project pins numpy 2. Its tritonserver has only the Python backend, which runs each model's
# ONNX file with this venv's onnxruntime (see inference/triton_serve.py).
TRITON_VENV := .earthsig/triton-venv
TRITON_STAMP := $(TRITON_VENV)/.installed-stamp

$(TRITON_STAMP): infra/make/inference.mk
	test -x $(TRITON_VENV)/bin/python || $(PY) -m venv $(TRITON_VENV)
	$(TRITON_VENV)/bin/pip install -q --disable-pip-version-check \
		nvidia-pytriton==0.7.0 onnxruntime==1.32.0 numpy==1.26.4
	touch $(TRITON_STAMP)

INSTALL_EXTRAS += $(TRITON_STAMP)
