"""Local (Docker-free) bundling of Ferry's Lambda code and layers.

Why local: the machines that build Ferry have no Docker engine, and the layers only need wheels, which pip
can fetch for another platform (`--platform manylinux... --only-binary=:all:`) from any host.

Why precompiled bytecode: Lambda mounts layers on a read-only /opt and code on a read-only /var/task, so
Python cannot cache what it compiles and pays the compilation on every cold start (1.3-1.9 s measured for
the dependencies, shared/FACTS.md). The bundles therefore ship `__pycache__/*.cpython-312.pyc`, compiled by
a Python 3.12 interpreter (the magic number must match the runtime), in `unchecked-hash` mode: the asset
zip stores every file with the same 1980 timestamp, so timestamp-checked pycs would never match their
sources and would be ignored.

Why a cache: installing a layer downloads and unpacks tens of megabytes; the result depends only on the
requirements file and the pip flags below, so it is kept under `.build/<layer>-<fingerprint>/` and reused
by every synth and by the tests until one of them changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import BundlingFileAccess, BundlingOptions, BundlingOutput, DockerImage, DockerVolume, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from cdk.constants import BUILD_DIR, LayerSpec

# Bump when the layout or the build steps change, so that caches and asset hashes follow.
BUNDLE_FORMAT = "2"
PYTHON_VERSION = (3, 12)
# Lambda's python3.12 runtime is Amazon Linux 2023 (glibc 2.34): manylinux2014 wheels are the baseline,
# manylinux_2_28 ones run too and are all that some projects still publish.
PIP_PLATFORM_ARGS = (
    "--platform",
    "manylinux2014_aarch64",
    "--platform",
    "manylinux_2_28_aarch64",
    "--implementation",
    "cp",
    "--python-version",
    ".".join(map(str, PYTHON_VERSION)),
    "--only-binary=:all:",
)
# What never belongs in a bundle: stale bytecode of the build machine (we compile our own).
EXCLUDED = ("__pycache__", "*.pyc", ".DS_Store")
IGNORED = shutil.ignore_patterns(*EXCLUDED)
COMPLETE_MARKER = ".ferry-bundle-complete"


class BundlingError(RuntimeError):
    """A bundle could not be built; the message says which command failed and its output."""


def find_runtime_python() -> str | None:
    """An interpreter of exactly Lambda's Python version, or None when this machine has none."""
    if sys.version_info[:2] == PYTHON_VERSION:
        return sys.executable
    major, minor = PYTHON_VERSION
    candidate = shutil.which(f"python{major}.{minor}")
    if candidate is None:
        return None
    probe = subprocess.run(
        [candidate, "-c", f"import sys; sys.exit(sys.version_info[:2] != {PYTHON_VERSION!r})"],
        check=False,
        capture_output=True,
    )
    return candidate if probe.returncode == 0 else None


def compile_bytecode(root: Path) -> bool:
    """Write `__pycache__/*.cpython-312.pyc` beside every module under root; False when impossible here."""
    python = find_runtime_python()
    if python is None:
        print(
            f"ferry bundling: no Python {PYTHON_VERSION[0]}.{PYTHON_VERSION[1]} found; {root.name} ships without "
            "precompiled bytecode and its cold starts will be slower",
            file=sys.stderr,
        )
        return False
    _run([python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(root)])
    return True


def requirements_fingerprint(requirements: Path, *, no_deps: bool) -> str:
    """Everything that decides the content of a pip-built layer, hashed."""
    digest = hashlib.sha256()
    digest.update(BUNDLE_FORMAT.encode())
    digest.update(repr((PIP_PLATFORM_ARGS, no_deps)).encode())
    digest.update(requirements.read_bytes())
    return digest.hexdigest()


def tree_fingerprint(source: Path) -> str:
    """A hash of the files a copied bundle is made of (bytecode excluded, as it is rebuilt)."""
    digest = hashlib.sha256(BUNDLE_FORMAT.encode())
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if path.is_dir() or any(fnmatch(part, pattern) for part in relative.parts for pattern in EXCLUDED):
            continue
        digest.update(str(relative).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def build_pip_layer(requirements: Path, *, name: str, no_deps: bool = False, cache_root: Path = BUILD_DIR) -> Path:
    """The cached layer folder (holding `python/`) for a requirements file, built on first use.

    Safe to call from concurrent processes (pytest-xdist): each builds in its own temporary folder and the
    first to finish renames it into place; the others discard theirs.
    """
    fingerprint = requirements_fingerprint(requirements, no_deps=no_deps)
    target = cache_root / f"{name}-{fingerprint[:16]}"
    if (target / COMPLETE_MARKER).exists():
        return target
    cache_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=cache_root))
    try:
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--target",
            str(staging / "python"),
            *PIP_PLATFORM_ARGS,
            "-r",
            str(requirements),
        ]
        if no_deps:
            command.append("--no-deps")
        _run(command)
        # Console scripts: nothing imports them, and two layers' python/bin would overwrite each other in /opt.
        shutil.rmtree(staging / "python" / "bin", ignore_errors=True)
        compile_bytecode(staging / "python")
        (staging / COMPLETE_MARKER).write_text(fingerprint + "\n")
        try:
            staging.rename(target)
        except OSError:
            if not (target / COMPLETE_MARKER).exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _prune_stale(cache_root, name=name, keep=target)
    return target


def _prune_stale(cache_root: Path, *, name: str, keep: Path) -> None:
    """Drop bundles of older requirements of the same layer: they are never used again."""
    for other in cache_root.glob(f"{name}-*"):
        if other != keep and other.is_dir() and len(other.name) == len(keep.name):
            shutil.rmtree(other, ignore_errors=True)


def copy_into(source: Path, output_dir: Path, *, from_cache: bool = False) -> None:
    """Copy a tree into CDK's (existing, empty) output folder.

    From the cache, files are hard-linked when the file system allows (a complete cache entry is never
    modified, so sharing its inodes saves copying tens of megabytes per synth) and its bytecode is kept.
    From a source folder, files are copied and the build machine's stale bytecode left behind.
    """

    def link_or_copy(src: str, dst: str) -> object:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
        return dst

    if from_cache:
        shutil.copytree(source, output_dir, copy_function=link_or_copy, dirs_exist_ok=True)
        (output_dir / COMPLETE_MARKER).unlink(missing_ok=True)
    else:
        shutil.copytree(source, output_dir, ignore=IGNORED, dirs_exist_ok=True)


def _run(command: list[str]) -> None:
    result = subprocess.run(command, check=False, capture_output=True, text=True)
    if result.returncode != 0:
        raise BundlingError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")


class _LocalBundler:
    """ILocalBundling's full signature once; jsii passes BundlingOptions' fields as keywords, all unused."""

    def try_bundle(
        self,
        output_dir: str,
        *,
        image: DockerImage,
        bundling_file_access: BundlingFileAccess | None = None,
        command: Sequence[str] | None = None,
        entrypoint: Sequence[str] | None = None,
        environment: Mapping[str, str] | None = None,
        local: ILocalBundling | None = None,
        network: str | None = None,
        output_type: BundlingOutput | None = None,
        platform: str | None = None,
        security_opt: str | None = None,
        user: str | None = None,
        volumes: Sequence[DockerVolume | dict[str, Any]] | None = None,
        volumes_from: Sequence[str] | None = None,
        working_directory: str | None = None,
    ) -> bool:
        # True tells CDK the asset is bundled; an error raised here fails the synth with its message.
        self.bundle(Path(output_dir))
        return True

    def bundle(self, output_dir: Path) -> None:
        raise NotImplementedError


@jsii.implements(ILocalBundling)
class PipLayerBundler(_LocalBundler):
    """Bundles a layer from a requirements file with pip, for Lambda's platform, through the cache."""

    def __init__(self, requirements: Path, *, name: str, no_deps: bool = False) -> None:
        self.requirements = requirements
        self.name = name
        self.no_deps = no_deps

    def bundle(self, output_dir: Path) -> None:
        layer = build_pip_layer(self.requirements, name=self.name, no_deps=self.no_deps)
        copy_into(layer, output_dir, from_cache=True)


@jsii.implements(ILocalBundling)
class SourceBundler(_LocalBundler):
    """Bundles a folder of Ferry's own code (a function, or the ferry layer) as is, plus its bytecode."""

    def __init__(self, source: Path) -> None:
        self.source = source

    def bundle(self, output_dir: Path) -> None:
        copy_into(self.source, output_dir)
        compile_bytecode(output_dir)


def layer_code(spec: LayerSpec) -> lambda_.Code:
    """The asset of a layer, bundled locally; its hash is the bundle's fingerprint, so that changing the
    requirements or the build steps (BUNDLE_FORMAT) publishes a new layer version and nothing else does."""
    if spec.pip:
        bundler: ILocalBundling = PipLayerBundler(spec.requirements, name=spec.name, no_deps=spec.no_deps)
        fingerprint = requirements_fingerprint(spec.requirements, no_deps=spec.no_deps)
    else:
        bundler = SourceBundler(spec.source)
        fingerprint = tree_fingerprint(spec.source)
    return _bundled_asset(spec.source, bundler, fingerprint)


def function_code(source: Path) -> lambda_.Code:
    """The asset of a function folder: its files as they are, plus their bytecode."""
    return _bundled_asset(source, SourceBundler(source), tree_fingerprint(source))


def _bundled_asset(source: Path, bundler: ILocalBundling, fingerprint: str) -> lambda_.Code:
    return lambda_.Code.from_asset(
        str(source),
        asset_hash=fingerprint,
        exclude=list(EXCLUDED),
        bundling=BundlingOptions(
            # Never pulled: try_bundle always succeeds or raises, so CDK never falls back to Docker.
            image=DockerImage.from_registry("unused"),
            local=bundler,
        ),
    )
