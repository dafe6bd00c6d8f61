"""Render the manifests: ``${NAME}`` placeholders substituted, variants chosen by file.

The templates are plain YAML, one file per resource group, applied in file-name order
(``base/``). ``--gpu`` swaps in ``gpu/``'s files for the base files of the same name and adds
its others (Triton); ``--dashboard`` adds ``optional/``. Rendering is text substitution only
(no YAML library needed where it runs): a placeholder left unset is an error, never an empty
string in a manifest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Kubernetes names (RFC 1123 labels) and image tags (OCI: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}).
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class Options:
    namespace: str = "earthsig"
    image_tag: str = "latest"
    # Registry and repository prefix of the images: compose.yaml's names by default.
    image_prefix: str = "earthsignature/"
    database_host: str = "postgres"
    rwx_storage_class: str = "nfs"
    tiler_public_url: str = "http://localhost:8082"
    triton_version: str = "25.01"
    gpu: bool = False
    dashboard: bool = False

    def substitutions(self) -> dict[str, str]:
        if not NAME.match(self.namespace) or len(self.namespace) > 63:
            raise ValueError(f"namespace {self.namespace!r} is not a Kubernetes name")
        if not TAG.match(self.image_tag):
            raise ValueError(f"image tag {self.image_tag!r} is not an image tag")
        return {
            "NAMESPACE": self.namespace, "IMAGE_TAG": self.image_tag,
            "IMAGE_PREFIX": self.image_prefix, "DATABASE_HOST": self.database_host,
            "RWX_STORAGE_CLASS": self.rwx_storage_class,
            "TILER_PUBLIC_URL": self.tiler_public_url, "TRITON_VERSION": self.triton_version,
            "JOB_SUFFIX": job_suffix(self.image_tag),
        }


# Ours are ``${NAME}``; ``$(VAR)`` is Kubernetes' reference to a container variable, kept.
PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def substitute(text: str, values: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise KeyError(match.group(1))
        return values[match.group(1)]

    return PLACEHOLDER.sub(value, text)


def job_suffix(tag: str) -> str:
    """The image tag as the end of a Job's name: one Job per tag, since Jobs are immutable."""
    suffix = re.sub(r"[^a-z0-9-]+", "-", tag.lower()).strip("-")[:40].strip("-")
    return suffix or "x"


def template_files(options: Options) -> list[Path]:
    """The templates of this variant, in apply order (their file names)."""
    chosen = {p.name: p for p in (HERE / "base").glob("*.yaml")}
    if options.gpu:
        chosen |= {p.name: p for p in (HERE / "gpu").glob("*.yaml")}
    if options.dashboard:
        chosen |= {p.name: p for p in (HERE / "optional").glob("*.yaml")}
    return [chosen[name] for name in sorted(chosen)]


def render(options: Options) -> dict[str, str]:
    """File name -> rendered text. Kubernetes' own ``$(VAR)`` references are left alone."""
    values = options.substitutions()
    rendered = {}
    for path in template_files(options):
        try:
            rendered[path.name] = substitute(path.read_text(), values)
        except KeyError as exc:  # a ${NAME} nobody set
            raise ValueError(f"{path.name}: no value for placeholder {exc}") from exc
    return rendered


def as_stream(files: dict[str, str]) -> str:
    """One multi-document YAML stream, for ``kubectl apply -f -``."""
    return "---\n".join(text if text.endswith("\n") else text + "\n"
                        for text in files.values())
