"""How good the models are: pixel scores against a labelled scene (``pixels``, ``scenes``,
``labels``) and patch-level scores against the real BigEarthNet patches (``patch_scores``,
``bigearthnet``). Beside ``inference``, not in it: evaluation runs the pipeline's readers and
the sample generator, which the model service never imports."""
