"""How a picture meets the clip's size: "match" keeps the picture's shape within a
width x height box, "crop" fills the box and cuts what sticks out. Pure arithmetic on
sizes, shared by the node's fit input and the command line's --fit."""
from __future__ import annotations

MIN_VIDEO_SIDE, MAX_VIDEO_SIDE = 256, 1280  # Segmind's range for width and height


def match_aspect(pic_w: int, pic_h: int, box_w: int, box_h: int) -> tuple[int, int]:
    """The picture's shape, as large as fits within box_w x box_h (each side kept in
    Segmind's range, so a very long picture is cropped a little)."""
    scale = min(box_w / pic_w, box_h / pic_h)
    return (max(MIN_VIDEO_SIDE, min(MAX_VIDEO_SIDE, int(round(pic_w * scale)))),
            max(MIN_VIDEO_SIDE, min(MAX_VIDEO_SIDE, int(round(pic_h * scale)))))


def oriented_box(pic_w: int, pic_h: int, box_w: int, box_h: int) -> tuple[int, int]:
    """The box turned to the picture's orientation: a landscape picture gets a landscape
    box (720x1280 -> 1280x720), a portrait one a portrait box; a square one keeps it."""
    long_side, short_side = max(box_w, box_h), min(box_w, box_h)
    if pic_w > pic_h:
        return long_side, short_side
    if pic_h > pic_w:
        return short_side, long_side
    return box_w, box_h


def crop_fraction(pic_w: int, pic_h: int, width: int, height: int) -> float:
    """The share of the picture (0..1) cut away when it is scaled to cover width x height
    and the overflow cropped."""
    scale = max(width / pic_w, height / pic_h)
    kept = (width / scale) * (height / scale) / (pic_w * pic_h)
    return max(0.0, 1.0 - kept)
