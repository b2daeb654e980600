// Generated from core/models.py by tools/models_data.py: do not edit by hand.
// After changing a model descriptor, run: python tools/models_data.py
// (tests/test_models.py fails while this file is out of date).

export const MODELS = Object.freeze({
  "ltx-2-19b-i2v": {
    "path": "ltx-2-19b-i2v",
    "title": "LTX-2 19B Image to Video",
    "fields": [
      {
        "name": "image",
        "kind": "media",
        "default": null,
        "min": null,
        "max": null,
        "media": "image",
        "required": true
      },
      {
        "name": "prompt",
        "kind": "text",
        "default": "",
        "min": null,
        "max": null,
        "required": true
      },
      {
        "name": "negative_prompt",
        "kind": "text",
        "default": "blurry, low quality, still frame, frames, watermark, overlay, titles, has blurbox, has subtitles",
        "min": null,
        "max": null
      },
      {
        "name": "width",
        "kind": "int",
        "default": 720,
        "min": 256,
        "max": 1280
      },
      {
        "name": "height",
        "kind": "int",
        "default": 1280,
        "min": 256,
        "max": 1280
      },
      {
        "name": "num_frames",
        "kind": "int",
        "default": 181,
        "min": 1,
        "max": 400
      },
      {
        "name": "fps",
        "kind": "int",
        "default": 24,
        "min": 1,
        "max": 30
      },
      {
        "name": "seed",
        "kind": "int",
        "default": 42,
        "min": 0,
        "max": 4294967295
      },
      {
        "name": "guidance_scale",
        "kind": "float",
        "default": 4.0,
        "min": 1.0,
        "max": 20.0
      }
    ],
    "grid": {
      "sideStep": 32,
      "frameStep": 8,
      "width": "width",
      "height": "height",
      "frames": "num_frames"
    },
    "price": {
      "rule": "volume",
      "usd": 0.455,
      "seconds": 113.31,
      "reference": {
        "width": 720,
        "height": 1280,
        "num_frames": 181
      },
      "perSecond": {},
      "by": "",
      "duration": "",
      "confirmed": false,
      "minSeconds": 10.0,
      "note": "Segmind's quoted $0.455 for its defaults (720x1280, 181 frames, rendered as 736x1280, 185 frames), scaled by the width x height x frames LTX-2 really renders (sides up to a multiple of 32, frames up to 8k+1)."
    },
    "output": {
      "mime": "video/mp4",
      "audio": true,
      "sizes": {},
      "sizeBy": "",
      "fps": null
    },
    "unconfirmed": [
      "the price scales with the rendered volume",
      "sizes are rounded up to the grid"
    ]
  },
  "ltx-2-19b-t2v": {
    "path": "ltx-2-19b-t2v",
    "title": "LTX-2 19B Text to Video",
    "fields": [
      {
        "name": "prompt",
        "kind": "text",
        "default": "",
        "min": null,
        "max": null,
        "required": true
      },
      {
        "name": "negative_prompt",
        "kind": "text",
        "default": "blurry, low quality, still frame, frames, watermark, overlay, titles, has blurbox, has subtitles",
        "min": null,
        "max": null
      },
      {
        "name": "width",
        "kind": "int",
        "default": 1280,
        "min": 256,
        "max": 1280
      },
      {
        "name": "height",
        "kind": "int",
        "default": 768,
        "min": 256,
        "max": 1280
      },
      {
        "name": "num_frames",
        "kind": "int",
        "default": 161,
        "min": 1,
        "max": 400
      },
      {
        "name": "fps",
        "kind": "int",
        "default": 24,
        "min": 1,
        "max": 30
      },
      {
        "name": "seed",
        "kind": "int",
        "default": 42,
        "min": 0,
        "max": 4294967295
      },
      {
        "name": "guidance_scale",
        "kind": "float",
        "default": 4.0,
        "min": 1.0,
        "max": 20.0
      }
    ],
    "grid": {
      "sideStep": 32,
      "frameStep": 8,
      "width": "width",
      "height": "height",
      "frames": "num_frames"
    },
    "price": {
      "rule": "volume",
      "usd": 0.455,
      "seconds": 113.31,
      "reference": {
        "width": 720,
        "height": 1280,
        "num_frames": 181
      },
      "perSecond": {},
      "by": "",
      "duration": "",
      "confirmed": false,
      "minSeconds": 10.0,
      "note": "Segmind's quoted $0.455 for its defaults (720x1280, 181 frames, rendered as 736x1280, 185 frames), scaled by the width x height x frames LTX-2 really renders (sides up to a multiple of 32, frames up to 8k+1)."
    },
    "output": {
      "mime": "video/mp4",
      "audio": true,
      "sizes": {},
      "sizeBy": "",
      "fps": null
    },
    "unconfirmed": [
      "the price scales with the rendered volume",
      "sizes are rounded up to the grid"
    ]
  }
});

// Which node class makes which model.
export const NODE_MODELS = Object.freeze({
  "SegmindLTX2ImageToVideo": "ltx-2-19b-i2v",
  "SegmindLTX2TextToVideo": "ltx-2-19b-t2v"
});

export const DEFAULT_MODEL = "ltx-2-19b-i2v";
