

def test_the_guide_states_the_scaling_the_manifests_have() -> None:
    """docs/deploy-kubernetes.md's table of pools, row by row, is what is rendered."""
    guide = (ROOT / "docs" / "deploy-kubernetes.md").read_text()
    for variant, suffix in (("cpu", ""), ("gpu", " (`--gpu`)")):
        for name, scaled in by_kind(documents(VARIANTS[variant]), "ScaledObject").items():
            if variant == "gpu" and name != "worker-infer":
                continue
            spec = scaled["spec"]
            targets = ", ".join(
                f"{t['metadata']['listLength']} (`{t['metadata']['listName'].split(':')[-1]}`)"
                for t in spec["triggers"]) if len(spec["triggers"]) > 1 else \
                spec["triggers"][0]["metadata"]["listLength"]
            row = (f"| `{name}`{suffix} | {targets} | {spec['minReplicaCount']} | "
                   f"{spec['maxReplicaCount']} |")
            assert row in guide, row
