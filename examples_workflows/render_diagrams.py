"""Draws a simple PNG diagram of every example workflow (boxes for nodes, arrows for
links, labelled with the data type) into examples_workflows/diagrams/, for the README.

    .venv/bin/python examples_workflows/render_diagrams.py

Reads the UI-format files (node positions included), so a diagram always shows the
graph that ships. Needs OpenCV (any build) and numpy; it is a documentation tool, not
part of the nodes."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "diagrams"
SCALE = 0.5                  # canvas pixels per graph unit
BOX_W, BOX_H = 190, 0        # height grows with the node's slots
ROW_H = 18
PAD = 30
FONT = cv2.FONT_HERSHEY_SIMPLEX
PACK_COLOUR = (150, 90, 30)  # BGR: the pack's nodes stand out from core ones
CORE_COLOUR = (80, 80, 80)
TYPE_COLOURS = {"IMAGE": (120, 170, 40), "AUDIO": (40, 120, 220), "VIDEO": (160, 60, 160),
                "FLOAT": (40, 160, 160), "LATENT": (160, 100, 200), "MODEL": (60, 60, 200),
                "CLIP": (30, 180, 220), "VAE": (90, 90, 220), "CONDITIONING": (90, 170, 90)}
DISPLAY = {"SegmindLTX2ImageToVideo": "Segmind LTX-2 Image to Video",
           "SegmindLTX2TextToVideo": "Segmind LTX-2 Text to Video",
           "SegmindLTX2ProImageToVideo": "Segmind LTX-2 Pro Image to Video",
           "SegmindLTX2FastTextToVideo": "Segmind LTX-2 Fast Text to Video",
           "SegmindLTX2JoinClips": "Segmind LTX-2 Join Clips",
           "SegmindLTX2Retake": "Segmind LTX-2 Retake"}


def _box(node: dict) -> tuple[int, int, int, int]:
    x, y = int(node["pos"][0] * SCALE) + PAD, int(node["pos"][1] * SCALE) + PAD + 20
    slots = max(len(node["inputs"]), len(node["outputs"]), 1)
    return x, y, BOX_W, 26 + ROW_H * slots


def _text(img: np.ndarray, text: str, org: tuple[int, int], size: float = 0.4,
          colour: tuple[int, int, int] = (30, 30, 30), thickness: int = 1) -> None:
    cv2.putText(img, text, org, FONT, size, colour, thickness, cv2.LINE_AA)


def render(path: Path) -> Path:
    ui = json.loads(path.read_text(encoding="utf-8"))
    boxes = {n["id"]: _box(n) for n in ui["nodes"]}
    width = max(x + w for x, _, w, _ in boxes.values()) + PAD
    height = max(y + h for _, y, _, h in boxes.values()) + PAD
    img = np.full((height, width, 3), 250, np.uint8)
    _text(img, path.stem.replace("_", " "), (PAD, 24), 0.6, (0, 0, 0), 2)
    # Links first: boxes drawn over them hide the crossings.
    for _, src, src_slot, dst, dst_slot, kind in ui["links"]:
        sx, sy, sw, _ = boxes[src]
        dx, dy, _, _ = boxes[dst]
        start = (sx + sw, sy + 32 + ROW_H * src_slot)
        end = (dx, dy + 32 + ROW_H * dst_slot)
        colour = TYPE_COLOURS.get(kind, (100, 100, 100))
        cv2.arrowedLine(img, start, end, colour, 2, cv2.LINE_AA, tipLength=12 / max(12, np.hypot(end[0] - start[0], end[1] - start[1])))
        _text(img, kind, (start[0] + 4, start[1] - 4), 0.33, colour)
    for n in ui["nodes"]:
        x, y, w, h = boxes[n["id"]]
        colour = PACK_COLOUR if n["type"] in DISPLAY else CORE_COLOUR
        cv2.rectangle(img, (x, y), (x + w, y + h), (255, 255, 255), -1)
        cv2.rectangle(img, (x, y), (x + w, y + 20), colour, -1)
        cv2.rectangle(img, (x, y), (x + w, y + h), colour, 1)
        _text(img, (n.get("title") or DISPLAY.get(n["type"], n["type"]))[:30], (x + 5, y + 14), 0.4, (255, 255, 255))
        for i, slot in enumerate(n["inputs"]):
            _text(img, slot["name"], (x + 8, y + 36 + ROW_H * i), 0.35)
        for i, slot in enumerate(n["outputs"]):
            label = slot["name"]
            (tw, _), _ = cv2.getTextSize(label, FONT, 0.35, 1)
            _text(img, label, (x + w - 8 - tw, y + 36 + ROW_H * i), 0.35)
    OUT.mkdir(exist_ok=True)
    dest = OUT / f"{path.stem}.png"
    cv2.imwrite(str(dest), img)
    return dest


def main() -> None:
    for path in sorted(HERE.glob("*.json")):
        if not path.name.endswith(".api.json"):
            print(f"wrote {render(path).relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
