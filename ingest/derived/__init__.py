"""Products derived from land cover: changes between acquisitions, labelling candidates, and
their publication."""
