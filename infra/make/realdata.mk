# Real Sentinel-2 L2A pixels for the tests (included by the Makefile): the BigEarthNet v2 patches
# in the configilm 0.7.1 wheel's test fixture. configilm pins numpy < 2 and torch, so it is not
# installed: its wheel is downloaded and only the fixture and the licence are unpacked (by
# samples/bigearthnet.py, which needs lmdb and safetensors from the dev extra); never
# committed. The product itself is stitched at test time (samples/bigearthnet_product.py).
BENV2_ROOT := .earthsig/testdata/bigearthnet
BENV2_STAMP := $(BENV2_ROOT)/.extracted-stamp

$(BENV2_STAMP): $(STAMP) infra/make/realdata.mk
	mkdir -p $(BENV2_ROOT)/wheel
	$(BIN)/pip download -q --disable-pip-version-check --no-deps configilm==0.7.1 \
		-d $(BENV2_ROOT)/wheel
	$(BIN)/python -m samples.bigearthnet \
		$(BENV2_ROOT)/wheel/configilm-0.7.1-py3-none-any.whl $(BENV2_ROOT)
	rm -rf $(BENV2_ROOT)/wheel
	touch $@

INSTALL_EXTRAS += $(BENV2_STAMP)
