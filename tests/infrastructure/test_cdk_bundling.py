"""Bundling: what Lambda will run fits its limits, matches its platform, and starts without compiling.

The fast tests check the bundler's logic on small trees. The slow ones build the real dependency layers
with pip (into `.build/`, reused on the next run) and inspect them the way Lambda will see them: unzipped
size of each function with its layers under 250 MB, aarch64 binaries only, and `.cpython-312.pyc` files
that Python 3.12 uses as they are (unchecked-hash) on the read-only /opt.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cdk.bundling import (
    SourceBundler,
    build_pip_layer,
    requirements_fingerprint,
    tree_fingerprint,
)
from cdk.constants import (
    DEPS_LAYER,
    FERRY_LAYER,
    FUNCTIONS,
    FUNCTIONS_DIR,
    KUBERNETES_LAYER,
    LAMBDA_UNZIPPED_LIMIT_BYTES,
    FunctionSpec,
)

MB = 1024 * 1024
ELF_AARCH64 = 183  # e_machine of an ARM 64-bit ELF object
PYC_FLAG_HASH_BASED = 0b01
PYC_FLAG_CHECK_SOURCE = 0b10


def tree_size(root: Path) -> int:
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


def pyc_flags(path: Path) -> int:
    flags: int = struct.unpack("<I", path.read_bytes()[4:8])[0]
    return flags


def modules_without_bytecode(root: Path) -> list[Path]:
    missing = []
    for source in root.rglob("*.py"):
        pyc = source.parent / "__pycache__" / f"{source.stem}.cpython-312.pyc"
        if not pyc.exists():
            missing.append(source)
    return missing


def bundle_source(source: Path, out: Path) -> Path:
    out.mkdir(parents=True)
    SourceBundler(source).bundle(out)
    return out


# --- fast: the bundler's logic --------------------------------------------------------------------------


def test_source_bundle_copies_code_without_stale_bytecode_and_compiles_it(tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "python" / "pkg" / "__pycache__").mkdir(parents=True)
    (source / "python" / "pkg" / "__init__.py").write_text("VALUE = 1\n")
    (source / "python" / "pkg" / "__pycache__" / "stale.cpython-311.pyc").write_bytes(b"stale")
    out = bundle_source(source, tmp_path / "out")
    cache = out / "python" / "pkg" / "__pycache__"
    assert sorted(p.name for p in cache.iterdir()) == ["__init__.cpython-312.pyc"]
    assert pyc_flags(cache / "__init__.cpython-312.pyc") == PYC_FLAG_HASH_BASED
    assert (source / "python" / "pkg" / "__init__.py").read_text() == "VALUE = 1\n", "the source is untouched"


def test_requirements_fingerprint_follows_the_file_and_the_flags(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("six==1.17.0\n")
    first = requirements_fingerprint(requirements, no_deps=False)
    assert requirements_fingerprint(requirements, no_deps=False) == first
    assert requirements_fingerprint(requirements, no_deps=True) != first
    requirements.write_text("six==1.16.0\n")
    assert requirements_fingerprint(requirements, no_deps=False) != first


def test_tree_fingerprint_ignores_bytecode_but_not_code(tmp_path: Path) -> None:
    (tmp_path / "handler.py").write_text("x = 1\n")
    first = tree_fingerprint(tmp_path)
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "handler.cpython-312.pyc").write_bytes(b"whatever")
    assert tree_fingerprint(tmp_path) == first
    (tmp_path / "handler.py").write_text("x = 2\n")
    assert tree_fingerprint(tmp_path) != first


# --- slow: the real layers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bundles:
    deps: Path
    kubernetes: Path
    ferry: Path
    functions: dict[str, Path]

    def layers_for(self, spec: FunctionSpec) -> list[Path]:
        return [self.deps, self.ferry] + ([self.kubernetes] if spec.kubernetes else [])


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bundles]:
    scratch = tmp_path_factory.mktemp("bundles")
    yield Bundles(
        deps=build_pip_layer(DEPS_LAYER.requirements, name=DEPS_LAYER.name),
        kubernetes=build_pip_layer(KUBERNETES_LAYER.requirements, name=KUBERNETES_LAYER.name, no_deps=True),
        ferry=bundle_source(FERRY_LAYER.source, scratch / "ferry"),
        functions={spec.name: bundle_source(FUNCTIONS_DIR / spec.name, scratch / spec.name) for spec in FUNCTIONS},
    )


slow = [pytest.mark.slow, pytest.mark.xdist_group("cdk-bundling")]


@pytest.mark.parametrize("spec", [pytest.param(spec, id=spec.name, marks=slow) for spec in FUNCTIONS])
def test_function_and_its_layers_fit_lambdas_unzipped_limit(bundles: Bundles, spec: FunctionSpec) -> None:
    sizes = {path.name: tree_size(path) for path in [bundles.functions[spec.name], *bundles.layers_for(spec)]}
    print(f"{spec.name}: " + ", ".join(f"{name} {size / MB:.1f} MB" for name, size in sizes.items()))
    assert sum(sizes.values()) < LAMBDA_UNZIPPED_LIMIT_BYTES


@pytest.mark.slow
@pytest.mark.xdist_group("cdk-bundling")
def test_a_function_with_every_layer_still_fits(bundles: Bundles) -> None:
    """The functions that talk to clusters (coming next) get all three layers: they must fit as well."""
    largest_code = max(tree_size(path) for path in bundles.functions.values())
    layers = {path.name: tree_size(path) for path in (bundles.deps, bundles.kubernetes, bundles.ferry)}
    print("layers: " + ", ".join(f"{name} {size / MB:.1f} MB" for name, size in layers.items()))
    assert largest_code + sum(layers.values()) < LAMBDA_UNZIPPED_LIMIT_BYTES


@pytest.mark.parametrize(
    ("layer", "packages"),
    [
        pytest.param("deps", ["aws_lambda_powertools", "boto3", "botocore", "dateutil"], id="deps", marks=slow),
        pytest.param("kubernetes", ["kubernetes", "yaml", "requests"], id="kubernetes", marks=slow),
        pytest.param("ferry", ["ferry"], id="ferry", marks=slow),
    ],
)
def test_layers_ship_python_312_bytecode_used_without_checking_sources(
    bundles: Bundles, layer: str, packages: list[str]
) -> None:
    root: Path = getattr(bundles, layer) / "python"
    for package in packages:
        compiled = list((root / package / "__pycache__").glob("*.cpython-312.pyc"))
        assert compiled, f"{layer}: no python/{package}/__pycache__/*.cpython-312.pyc"
        assert {pyc_flags(pyc) for pyc in compiled} == {PYC_FLAG_HASH_BASED}, "timestamp pycs would be ignored"
    assert modules_without_bytecode(root) == []


@pytest.mark.parametrize("layer", [pytest.param(name, marks=slow) for name in ("deps", "kubernetes")])
def test_native_extensions_are_built_for_graviton(bundles: Bundles, layer: str) -> None:
    for library in (getattr(bundles, layer) / "python").rglob("*.so*"):
        header = library.read_bytes()[:20]
        assert header[:4] == b"\x7fELF", library
        assert struct.unpack("<H", header[18:20])[0] == ELF_AARCH64, f"{library} is not aarch64"


@pytest.mark.slow
@pytest.mark.xdist_group("cdk-bundling")
def test_no_two_layers_ship_the_same_package(bundles: Bundles) -> None:
    """CDK sorts a function's layers, so their order on /opt is not ours: no path may come from two of them."""
    shipped_by_deps = {path.name for path in (bundles.deps / "python").iterdir()}
    shipped_by_kubernetes = {path.name for path in (bundles.kubernetes / "python").iterdir()}
    shipped_by_ferry = {path.name for path in (bundles.ferry / "python").iterdir()} - {"__pycache__"}
    assert {"urllib3", "dateutil", "six.py", "boto3", "botocore"} <= shipped_by_deps
    assert shipped_by_deps & shipped_by_kubernetes == set(), "--no-deps: one copy of each package on /opt"
    assert shipped_by_ferry == {"ferry"}


@pytest.mark.slow
@pytest.mark.xdist_group("cdk-bundling")
def test_layers_are_built_once_then_reused(bundles: Bundles) -> None:
    before = {path: os.stat(path).st_mtime_ns for path in (bundles.deps, bundles.kubernetes)}
    assert build_pip_layer(DEPS_LAYER.requirements, name=DEPS_LAYER.name) == bundles.deps
    assert (
        build_pip_layer(KUBERNETES_LAYER.requirements, name=KUBERNETES_LAYER.name, no_deps=True) == bundles.kubernetes
    )
    assert {path: os.stat(path).st_mtime_ns for path in before} == before
