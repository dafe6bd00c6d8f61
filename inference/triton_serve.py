"""A real Triton server on the model repository: the ``tritonserver`` of the nvidia-pytriton wheel.

That build is CPU-only and has just the Python backend, so the server reads a *served copy*
of the repository: the same ``config.pbtxt`` with ``backend: "python"``, and beside each
version's ``model.onnx`` (a link) the generic ``model.py`` (``triton_model.py``) that runs it
with ONNX Runtime. NVIDIA's Triton container reads the repository itself with its ONNX backend.

The server runs from its own venv (nvidia-pytriton pins numpy < 2; the project pins numpy 2):

- the Python stub finds its site-packages through ``PATH``: the venv's ``bin`` goes first,
  else it imports the system numpy 2, whose arrays the stub cannot return (empty outputs);
- ``LD_LIBRARY_PATH`` starts with the interpreter's own LIBDIR, else the stub loads Debian's
  libpython and fails with ``'_thread.RLock' object has no attribute '_recursion_count'``;
- the wheel's bundled libraries (``nvidia_pytriton.libs``) follow.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from inference.errors import BackendUnavailableError, InferenceError
from inference.repository import ModelRepository, triton_config

STUB = "triton_python_backend_stub"
PARAM = '{{ key: "{key}" value: {{ string_value: "{value}" }} }}'


@dataclass(frozen=True)
class TritonLayout:
    venv: Path  # the Triton venv (nvidia-pytriton, onnxruntime, numpy < 2)

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def site_packages(self) -> Path:
        found = sorted((self.venv / "lib").glob("python3*/site-packages"))
        if not found or not (found[0] / "pytriton").is_dir():
            raise InferenceError(
                f"no nvidia-pytriton in {self.venv}: run `make install` (the triton venv step)")
        return found[0]

    @property
    def dist(self) -> Path:
        return self.site_packages() / "pytriton" / "tritonserver"

    @property
    def binary(self) -> Path:
        return self.dist / "bin" / "tritonserver"

    def python_version(self) -> str:
        return self.site_packages().parent.name.removeprefix("python")


def prepare_backends(layout: TritonLayout, target: Path) -> Path:
    """``<target>/python``: the Python backend with the stub of the venv's Python version."""
    python = target / "python"
    python.mkdir(parents=True, exist_ok=True)
    sources = {name: layout.dist / "backends" / "python" / name
               for name in ("libtriton_python.so", "triton_python_backend_utils.py")}
    sources[STUB] = layout.dist / "python_backend_stubs" / layout.python_version() / STUB
    for name, src in sources.items():
        _link(src, python / name)
    return target


def served_copy(repo: ModelRepository, target: Path, *, ort_threads: int = 0,
                ort_arena: bool = True, runtimes: dict[str, str] | None = None) -> list[str]:
    """Write the Python-backend copy of every model in ``repo`` into ``target``; ``runtimes``
    names the models run with OpenVINO instead of ONNX Runtime (``model_runtimes``)."""
    if target.exists():
        shutil.rmtree(target)  # a model removed from the repository must not be served
    model_py = files("inference").joinpath("triton_model.py").read_text()
    names = repo.names()
    for name in names:
        versions = repo.versions(name)
        # Every version's shapes: a band or class count they disagree on becomes -1 here.
        config = triton_config(repo.specs(name), repo.max_batch_size, backend="python")
        params = [PARAM.format(key="ort_threads", value=ort_threads),
                  PARAM.format(key="ort_arena", value=int(ort_arena)),
                  PARAM.format(key="runtime", value=(runtimes or {}).get(name, "onnxruntime"))]
        config += f"parameters [{', '.join(params)}]\n"
        (target / name).mkdir(parents=True)
        (target / name / "config.pbtxt").write_text(config)
        for version in versions:
            folder = target / name / version
            folder.mkdir()
            _link((repo.root / name / version / "model.onnx").resolve(), folder / "model.onnx")
            (folder / "model.py").write_text(model_py)
    return names


def server_env(layout: TritonLayout) -> dict[str, str]:
    env = dict(os.environ)
    libdir = _interpreter_libdir(layout)
    libs = layout.site_packages() / "nvidia_pytriton.libs"
    env["LD_LIBRARY_PATH"] = ":".join(p for p in (libdir, str(libs),
                                                  env.get("LD_LIBRARY_PATH", "")) if p)
    env["PATH"] = f"{layout.venv / 'bin'}:{env.get('PATH', '')}"
    env.pop("PYTHONPATH", None)  # the project's own path must not leak into the stub
    return env


def server_command(layout: TritonLayout, served: Path, backends: Path, *, grpc_port: int,
                   http_port: int) -> list[str]:
    return [str(layout.binary), f"--model-repository={served}",
            f"--backend-directory={backends}", f"--grpc-port={grpc_port}",
            f"--http-port={http_port}", "--allow-metrics=false", "--exit-on-error=true",
            "--strict-readiness=true"]


def start_server(repo: ModelRepository, layout: TritonLayout, state: Path, *, grpc_port: int,
                 http_port: int, log_path: Path, ort_threads: int = 0,
                 ort_arena: bool = True, runtimes: dict[str, str] | None = None
                 ) -> subprocess.Popen:
    """Prepare the served copy and start ``tritonserver`` in its own session (not waited on)."""
    served = state / "repository"
    served_copy(repo, served, ort_threads=ort_threads, ort_arena=ort_arena,
                runtimes=runtimes)
    backends = prepare_backends(layout, state / "backends")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            server_command(layout, served, backends, grpc_port=grpc_port, http_port=http_port),
            env=server_env(layout), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)


def wait_ready(url: str, process: subprocess.Popen | None = None, timeout_s: float = 120.0,
               log_path: Path | None = None) -> None:
    """Block until the server at ``url`` (gRPC) says it is ready, or fail with its log."""
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

    client = grpcclient.InferenceServerClient(url)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise BackendUnavailableError(
                    f"tritonserver exited with {process.returncode}{_tail(log_path)}")
            try:
                if client.is_server_ready(client_timeout=2.0):
                    return
            except InferenceServerException:
                pass
            time.sleep(0.3)
    finally:
        client.close()
    raise BackendUnavailableError(f"Triton at {url} not ready after {timeout_s}s"
                                  f"{_tail(log_path)}")


def _interpreter_libdir(layout: TritonLayout) -> str:
    """LIBDIR of the interpreter the venv was made from (the libpython the stub must load)."""
    out = subprocess.run([str(layout.python), "-c",
                          "import sysconfig; print(sysconfig.get_config_var('LIBDIR') or '')"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _link(src: Path, dst: Path) -> None:
    if not src.exists():
        raise InferenceError(f"missing {src}")
    if dst.is_symlink() or dst.exists():
        dst.unlink()
    dst.symlink_to(src)


def _tail(log_path: Path | None, lines: int = 25) -> str:
    if log_path is None or not log_path.exists():
        return ""
    text = log_path.read_text(errors="replace").splitlines()[-lines:]
    return "\n--- tritonserver log ---\n" + "\n".join(text)

