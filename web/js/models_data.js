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
  },
  "ltx-2-pro": {
    "path": "ltx-2-pro",
    "title": "LTX-2 Pro Image to Video",
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
        "name": "duration",
        "kind": "choice",
        "default": 6,
        "min": null,
        "max": null,
        "choices": [
          6,
          8,
          10
        ]
      },
      {
        "name": "resolution",
        "kind": "choice",
        "default": "1080p",
        "min": null,
        "max": null,
        "choices": [
          "1080p",
          "1440p",
          "2160p"
        ]
      },
      {
        "name": "generate_audio",
        "kind": "bool",
        "default": true,
        "min": null,
        "max": null
      },
      {
        "name": "fps",
        "kind": "choice",
        "default": null,
        "min": null,
        "max": null,
        "choices": [
          25,
          50
        ],
        "optional": true
      }
    ],
    "grid": null,
    "price": {
      "rule": "per_second",
      "usd": 0.36,
      "seconds": 71.0,
      "reference": {
        "duration": 6
      },
      "perSecond": {
        "1080p": 0.06,
        "1440p": 0.12,
        "2160p": 0.24
      },
      "by": "resolution",
      "duration": "duration",
      "confirmed": false,
      "minSeconds": 10.0,
      "note": "Another host's rates for LTX-2 Pro: $0.06 a second at 1080p, $0.12 at 1440p, $0.24 at 2160p (Segmind's page shows no price)."
    },
    "output": {
      "mime": "video/mp4",
      "audio": true,
      "sizes": {
        "1080p": [
          1920,
          1080
        ],
        "1440p": [
          2560,
          1440
        ],
        "2160p": [
          3840,
          2160
        ]
      },
      "sizeBy": "resolution",
      "fps": 25
    },
    "unconfirmed": [
      "the price per second by resolution",
      "duration 6, 8 or 10 s",
      "resolution 1080p, 1440p or 2160p",
      "fps 25 or 50 (sent only when set)",
      "16:9 output at the resolution's size",
      "duration x fps frames"
    ]
  },
  "ltx-2-fast": {
    "path": "ltx-2-fast",
    "title": "LTX-2 Fast Text to Video",
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
        "name": "duration",
        "kind": "choice",
        "default": 8,
        "min": null,
        "max": null,
        "choices": [
          6,
          8,
          10
        ]
      },
      {
        "name": "resolution",
        "kind": "choice",
        "default": "2k",
        "min": null,
        "max": null,
        "choices": [
          "1080p",
          "1440p",
          "2160p",
          "2k"
        ]
      },
      {
        "name": "generate_audio",
        "kind": "bool",
        "default": true,
        "min": null,
        "max": null
      }
    ],
    "grid": null,
    "price": {
      "rule": "per_second",
      "usd": 0.8,
      "seconds": 47.0,
      "reference": {
        "duration": 8
      },
      "perSecond": {
        "1080p": 0.05,
        "1440p": 0.1,
        "2160p": 0.2,
        "2k": 0.1
      },
      "by": "resolution",
      "duration": "duration",
      "confirmed": false,
      "minSeconds": 10.0,
      "note": "Segmind's \"$0.30 - $2.00 per generation\" read per second: $0.05 at 1080p, $0.10 at 1440p and 2k, $0.20 at 2160p."
    },
    "output": {
      "mime": "video/mp4",
      "audio": true,
      "sizes": {
        "1080p": [
          1920,
          1080
        ],
        "1440p": [
          2560,
          1440
        ],
        "2160p": [
          3840,
          2160
        ],
        "2k": [
          2560,
          1440
        ]
      },
      "sizeBy": "resolution",
      "fps": 25
    },
    "unconfirmed": [
      "the price per second by resolution",
      "resolution 1080p, 1440p, 2160p besides 2k",
      "2k is 2560x1440",
      "16:9 output at the resolution's size",
      "25 fps, duration x fps frames"
    ]
  },
  "ltx-retake-video": {
    "path": "ltx-retake-video",
    "title": "LTX-2 Retake",
    "fields": [
      {
        "name": "video_uri",
        "kind": "media",
        "default": null,
        "min": null,
        "max": null,
        "media": "video",
        "required": true
      },
      {
        "name": "start_time",
        "kind": "float",
        "default": 0.0,
        "min": 0.0,
        "max": 3600.0
      },
      {
        "name": "duration",
        "kind": "float",
        "default": 2.0,
        "min": 2.0,
        "max": 3600.0
      },
      {
        "name": "prompt",
        "kind": "text",
        "default": "",
        "min": null,
        "max": null
      },
      {
        "name": "mode",
        "kind": "choice",
        "default": "replace_audio_and_video",
        "min": null,
        "max": null,
        "choices": [
          "replace_audio_and_video",
          "replace_video",
          "replace_audio"
        ]
      }
    ],
    "grid": null,
    "price": {
      "rule": "flat",
      "usd": 0.791,
      "seconds": 38.5,
      "reference": {},
      "perSecond": {},
      "by": "",
      "duration": "",
      "confirmed": false,
      "minSeconds": 10.0,
      "note": "Segmind's quoted ~$0.791 per retake, taken as one price per clip whatever the section's length."
    },
    "output": {
      "mime": "video/mp4",
      "audio": true,
      "sizes": {},
      "sizeBy": "",
      "fps": null
    },
    "unconfirmed": [
      "one price per retake ($0.791), whatever the section's length",
      "the clip at the input's size, length and rate",
      "the input clip as an MP4 in a data URI or an uploaded file's URL",
      "a data URI of at most 20 MB (the pack's limit)",
      "at least 73 frames and at most 3840x2160 (Lightricks' API)"
    ]
  }
});

// Which node class makes which model.
export const NODE_MODELS = Object.freeze({
  "SegmindLTX2ImageToVideo": "ltx-2-19b-i2v",
  "SegmindLTX2TextToVideo": "ltx-2-19b-t2v",
  "SegmindLTX2ProImageToVideo": "ltx-2-pro",
  "SegmindLTX2FastTextToVideo": "ltx-2-fast",
  "SegmindLTX2Retake": "ltx-retake-video"
});

export const DEFAULT_MODEL = "ltx-2-19b-i2v";
