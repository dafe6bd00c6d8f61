"""`earthsig triton serve|prepare`: a real Triton server on the model repository."""

from __future__ import annotations

import signal
import sys

import click


def serve_triton(grpc_port: int, http_port: int) -> None:
    """Run tritonserver (nvidia-pytriton's build) in the foreground until interrupted."""
    from inference.repository import ModelRepository
    from inference.settings import InferenceSettings
    from inference.triton_serve import TritonLayout, start_server, wait_ready

    settings = InferenceSettings()
    repo = ModelRepository.from_settings(settings)
    repo.build_all_references()
    state = settings.triton_state.resolve()
    log = state / "tritonserver.log"
    process = start_server(repo, TritonLayout(settings.triton_venv.resolve()), state,
                           grpc_port=grpc_port, http_port=http_port, log_path=log,
                           ort_threads=settings.triton_ort_threads,
                           runtimes=dict(settings.model_runtimes))
    signal.signal(signal.SIGTERM, lambda *_: process.terminate())
    try:
        wait_ready(f"127.0.0.1:{grpc_port}", process, log_path=log)
        click.echo(f"Triton ready: gRPC 127.0.0.1:{grpc_port}, HTTP 127.0.0.1:{http_port}; "
                   f"models {', '.join(repo.names())}; log {log}")
        sys.exit(process.wait())
    except KeyboardInterrupt:
        pass
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


@click.group()
def triton() -> None:
    """The local Triton server (CPU build from the nvidia-pytriton wheel)."""


@triton.command("serve")
@click.option("--grpc-port", type=int, default=8001, show_default=True)
@click.option("--http-port", type=int, default=8000, show_default=True)
def triton_serve(grpc_port: int, http_port: int) -> None:
    """Serve every model of the repository (all versions) until interrupted."""
    serve_triton(grpc_port, http_port)


@triton.command("prepare")
def triton_prepare() -> None:
    """Write the served copy of the repository (Python backend + ONNX Runtime) only."""
    from inference.repository import ModelRepository
    from inference.settings import InferenceSettings
    from inference.triton_serve import served_copy

    settings = InferenceSettings()
    repo = ModelRepository.from_settings(settings)
    repo.build_all_references()
    target = settings.triton_state.resolve() / "repository"
    names = served_copy(repo, target, ort_threads=settings.triton_ort_threads,
                        runtimes=dict(settings.model_runtimes))
    click.echo(f"{target}: {', '.join(names)}")
