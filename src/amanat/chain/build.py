"""Compile contracts/*.vy into JSON artifacts (ABI, bytecode, blueprint). Run: python -m amanat.chain.build."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import vyper

from amanat.chain.artifacts import ARTIFACT_DIR, CONTRACT_NAMES

CONTRACTS_DIR = Path(__file__).resolve().parents[3] / "contracts"


def build(contracts_dir: Path = CONTRACTS_DIR, out_dir: Path = ARTIFACT_DIR) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in CONTRACT_NAMES:
        path = contracts_dir / f"{name}.vy"
        source = path.read_text()
        compiled = vyper.compile_code(
            source,
            contract_path=str(path),
            output_formats=["abi", "bytecode", "bytecode_runtime", "blueprint_bytecode"],
        )
        artifact = {
            "contractName": name,
            "compiler": f"vyper {vyper.__version__}",
            "sourceSha256": hashlib.sha256(source.encode()).hexdigest(),
            "abi": compiled["abi"],
            "bytecode": compiled["bytecode"],
            "runtimeBytecode": compiled["bytecode_runtime"],
            "blueprintBytecode": compiled["blueprint_bytecode"],
        }
        target = out_dir / f"{name}.json"
        target.write_text(json.dumps(artifact, indent=1, sort_keys=True) + "\n")
        written.append(target)
    return written


def main() -> None:
    for path in build():
        print(f"built {path.name}", file=sys.stderr)


if __name__ == "__main__":
    main()
