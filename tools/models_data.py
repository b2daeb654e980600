#!/usr/bin/env python3
"""Write web/js/models_data.js, the front end's copy of the model descriptors (core/models.py):
each model's fields, grid, price rule and quoted time, and which node class makes which model.
web/js/cost.js reads its numbers from it; tests/test_models.py fails when the file is out of date.

    python tools/models_data.py          # rewrite the file
    python tools/models_data.py --check  # exit 1 when it is out of date"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "web" / "js" / "models_data.js"


def _package() -> str:
    """Load the pack from its folder as a package (as segmind_ltx2.py does), whatever the folder is called."""
    sys.path.insert(0, str(ROOT))
    try:
        import segmind_ltx2
    finally:
        sys.path.pop(0)
    segmind_ltx2.load_package(ROOT)
    return segmind_ltx2.PACKAGE


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _model_data(model: Any) -> dict[str, Any]:
    fields = []
    for f in model.fields:
        entry = {"name": f.name, "kind": f.kind, "default": f.default, "min": f.minimum, "max": f.maximum}
        if f.choices:
            entry["choices"] = list(f.choices)
        if f.media:
            entry["media"] = f.media
        if f.required:
            entry["required"] = True
        if f.optional:
            entry["optional"] = True
        fields.append(entry)
    price = asdict(model.price)
    price["reference"] = dict(model.price.reference)
    price["per_second"] = dict(model.price.per_second)
    output = asdict(model.output)
    output["sizes"] = {name: list(size) for name, size in model.output.sizes}
    return {
        "path": model.path,
        "title": model.title,
        "fields": fields,
        "grid": None if model.grid is None else {_camel(k): v for k, v in asdict(model.grid).items()},
        "price": {_camel(k): v for k, v in price.items()},
        "output": {_camel(k): v for k, v in output.items()},
        "unconfirmed": list(model.unconfirmed),
    }


def render(models: Any, node_classes: dict[str, Any]) -> str:
    """The file's whole text, from the descriptors (the pack's core.models module) and the
    node registry (NODE_CLASS_MAPPINGS)."""
    node_models = {name: cls.MODEL.path for name, cls in node_classes.items()
                   if isinstance(getattr(cls, "MODEL", None), models.Model)}

    def js(value: Any) -> str:
        return json.dumps(value, indent=2, ensure_ascii=True)

    data = {path: _model_data(m) for path, m in models.MODELS.items()}
    return "\n".join([
        "// Generated from core/models.py by tools/models_data.py: do not edit by hand.",
        "// After changing a model descriptor, run: python tools/models_data.py",
        "// (tests/test_models.py fails while this file is out of date).",
        "",
        f"export const MODELS = Object.freeze({js(data)});",
        "",
        "// Which node class makes which model.",
        f"export const NODE_MODELS = Object.freeze({js(node_models)});",
        "",
        f"export const DEFAULT_MODEL = {js(models.DEFAULT_MODEL.path)};",
        "",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the file is out of date; write nothing")
    args = parser.parse_args()
    package = _package()
    text = render(importlib.import_module(f"{package}.core.models"),
                  importlib.import_module(f"{package}.nodes").NODE_CLASS_MAPPINGS)
    current = TARGET.read_text(encoding="utf-8") if TARGET.is_file() else None
    if args.check:
        if current != text:
            print(f"{TARGET.relative_to(ROOT)} is out of date: run python tools/models_data.py", file=sys.stderr)
            return 1
        return 0
    if current != text:
        TARGET.write_text(text, encoding="utf-8")
        print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
