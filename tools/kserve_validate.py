"""Load KServe manifests into the `kserve` SDK's model classes, strictly; exit 1 naming each problem.

    build/kserve-venv/bin/python tools/kserve_validate.py deploy/kserve/*.yaml     (`make kserve-validate`)

Runs in its own virtualenv (`make kserve-validate` creates build/kserve-venv): the SDK pins psutil<6, ours is 7.
So this file imports only the SDK, the Kubernetes client and PyYAML, never the project.

The SDK's own `ApiClient.deserialize` cannot resolve the Kubernetes types its models refer to (V1ObjectMeta,
V1ResourceRequirements, ...) and silently drops unknown fields, so the manifests are walked here with the SDK's
type tables (`openapi_types`, `attribute_map`): every field must exist in its class, every value must have the
declared type, and every object is built by its class's constructor (which checks required fields and enums).
The objects are then serialized back with the SDK's ApiClient and must equal the manifest (but for fields the
constructors fill with empty defaults).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import kserve.models
import kubernetes.client
import yaml

KINDS = {
    ("serving.kserve.io/v1beta1", "InferenceService"): "V1beta1InferenceService",
    ("serving.kserve.io/v1alpha1", "ServingRuntime"): "V1alpha1ServingRuntime",
    ("v1", "ServiceAccount"): "V1ServiceAccount",
    ("networking.k8s.io/v1", "NetworkPolicy"): "V1NetworkPolicy",
}
PRIMITIVES = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "object": (object,)}


class ManifestError(ValueError):
    pass


def build(data, type_name: str, path: str):
    """`data` as an instance of the SDK type `type_name` (or a list/dict/primitive of it)."""
    # The SDK writes list[T] and dict(str, T); the Kubernetes client List[T] and Dict[str, T].
    if match := re.fullmatch(r"[lL]ist\[(.+)\]", type_name):
        _expect(data, list, path, type_name)
        return [build(item, match[1], f"{path}[{index}]") for index, item in enumerate(data)]
    if match := re.fullmatch(r"dict\(([^,]+), (.+)\)|Dict\[([^,]+), (.+)\]", type_name):
        _expect(data, dict, path, type_name)
        value_type = match[2] or match[4]
        return {key: build(value, value_type, f"{path}.{key}") for key, value in data.items()}
    if type_name in PRIMITIVES:
        if type_name in ("int", "float") and isinstance(data, bool):
            raise ManifestError(f"{path}: expected {type_name}, got a boolean")
        _expect(data, PRIMITIVES[type_name], path, type_name)
        return data
    klass = getattr(kserve.models, type_name, None) or getattr(kubernetes.client.models, type_name, None)
    if klass is None:
        raise ManifestError(f"{path}: unknown type {type_name}")
    _expect(data, dict, path, type_name)
    known = set(klass.attribute_map.values())
    unknown = sorted(set(data) - known)
    if unknown:
        raise ManifestError(f"{path}: {type_name} has no field(s) {', '.join(unknown)}")
    kwargs = {
        attribute: build(data[key], klass.openapi_types[attribute], f"{path}.{key}")
        for attribute, key in klass.attribute_map.items()
        if key in data
    }
    try:
        return klass(**kwargs)
    except ValueError as error:
        raise ManifestError(f"{path}: {type_name}: {error}") from None


def _expect(data, types, path: str, type_name: str) -> None:
    if not isinstance(data, types):
        raise ManifestError(f"{path}: expected {type_name}, got {type(data).__name__}")


def _same(original, again) -> bool:
    """Equal, except that `again` may carry fields the SDK's constructors default to empty (a model's `name: ''`)."""
    if isinstance(original, dict) and isinstance(again, dict):
        extra = set(again) - set(original)
        return (
            set(original) <= set(again)
            and all(again[key] in ("", None, [], {}) for key in extra)
            and all(_same(original[key], again[key]) for key in original)
        )
    if isinstance(original, list) and isinstance(again, list):
        return len(original) == len(again) and all(map(_same, original, again))
    return original == again and type(original) is type(again)


def validate(path: Path) -> list[str]:
    """Problems with one manifest file (empty when it loads and round-trips exactly)."""
    problems = []
    for index, document in enumerate(yaml.safe_load_all(path.read_text())):
        where = f"{path.name}#{index}"
        type_name = KINDS.get((document.get("apiVersion"), document.get("kind")))
        if type_name is None:
            problems.append(f"{where}: unexpected apiVersion/kind {document.get('apiVersion')}/{document.get('kind')}")
            continue
        try:
            instance = build(document, type_name, where)
        except ManifestError as error:
            problems.append(str(error))
            continue
        again = kserve.ApiClient().sanitize_for_serialization(instance)
        if not _same(document, again):
            problems.append(f"{where}: does not round-trip through {type_name}: {again!r}")
    return problems


def main(argv: list[str]) -> int:
    problems = [problem for name in argv for problem in validate(Path(name))]
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if not problems:
        print(f"{len(argv)} manifest file(s) load into the kserve SDK's model classes and round-trip exactly")
    return 1 if problems or not argv else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
