"""Command line: one clip from a picture (or text) and a prompt, outside ComfyUI, through
the same code as the nodes (params -> pipeline or offline preview -> decode).

Run from the folder that contains the pack, with the pack's folder name:
    python -m comfyui_segmind_ltx2 --image photo.png --prompt "the lake ripples"
The default backend is the free offline preview (no key, no network); --backend segmind
makes the real, paid clip. Writes the MP4, a WAV of its audio and a JSON summary."""
from __future__ import annotations

import argparse
import json
import sys
import wave
from pathlib import Path
from typing import Any

from .core.params import DEFAULT_NEGATIVE_PROMPT, I2V_NUMBERS, T2V_NUMBERS, NumberField

_CLI_BACKENDS = {"offline": "offline preview", "segmind": "segmind"}
_API_MODES = {"async": 0, "sync": 1}  # index into core.pipeline.API_MODES


def _parser() -> argparse.ArgumentParser:
    prog = f"python -m {__package__ or 'comfyui_segmind_ltx2'}"
    p = argparse.ArgumentParser(
        prog=prog, description="Make a Segmind LTX-2 video clip (with sound) from a picture and a prompt.",
        epilog="The default --backend offline is free and needs no key: it animates the picture locally "
               "so you can see the whole job run. --backend segmind makes the real clip (about $0.455, 2 minutes).")
    p.add_argument("--image", type=Path, help="the first frame (PNG, JPEG, WebP, ...); required unless --t2v")
    p.add_argument("--t2v", action="store_true", help="text to video: no picture, the prompt alone")
    p.add_argument("--prompt", help="describe the scene, motion and sound")
    p.add_argument("--negative-prompt", default=DEFAULT_NEGATIVE_PROMPT, help="what to avoid")
    for name in ("width", "height", "num_frames", "fps", "seed"):
        p.add_argument("--" + name.replace("_", "-"), type=int, dest=name,
                       help=_default_help(name))
    p.add_argument("--guidance-scale", type=float, dest="guidance_scale", help=_default_help("guidance_scale"))
    p.add_argument("--backend", choices=list(_CLI_BACKENDS), default="offline",
                   help="offline: free local preview (default). segmind: the real, paid clip")
    p.add_argument("--api-mode", choices=list(_API_MODES), default="async",
                   help="segmind only: async = v2 submit and poll (default), sync = one long v1 request")
    p.add_argument("--out", type=Path, help="output folder (default: ./output, or $SEGMIND_LTX2_OUTPUT)")
    p.add_argument("--check-key", action="store_true", help="check the Segmind key and print the credits left")
    p.add_argument("--clear-cache", action="store_true", help="delete the cached Segmind clips")
    return p


def _default_help(name: str) -> str:
    i2v = {f.name: f for f in I2V_NUMBERS}[name]
    t2v = {f.name: f for f in T2V_NUMBERS}[name]
    lo, hi = _fmt(i2v.minimum, i2v), _fmt(i2v.maximum, i2v)
    return f"{lo}..{hi}; default {_fmt(i2v.default, i2v)} (with --t2v {_fmt(t2v.default, t2v)})"


def _fmt(value: float, f: NumberField) -> str:
    return str(int(value)) if f.integer else f"{value:g}"


def user_directory() -> Path:
    """Where the key file and cache live: ComfyUI's user folder when the pack sits in
    <ComfyUI>/custom_nodes (so a key saved in ComfyUI's settings works here too)."""
    from . import comfy_host

    here = Path(__file__).absolute().parent  # not resolve(): a symlinked pack still sits in custom_nodes
    comfy_user = here.parent.parent / "user"
    if here.parent.name == "custom_nodes" and comfy_user.is_dir():
        return comfy_user
    return comfy_host.user_directory()


def load_picture(path: Path) -> Any:
    """uint8 RGB [H, W, 3] from an image file, through PyAV (already required; no cv2 or Pillow needed)."""
    import av

    from .core.errors import InvalidInputError

    if not path.is_file():
        raise InvalidInputError(f"--image {path}: no such file. Give the path of a PNG or JPEG picture.")
    try:
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0))
            return frame.to_ndarray(format="rgb24")
    except (av.FFmpegError, StopIteration, IndexError) as exc:
        raise InvalidInputError(f"--image {path} could not be read as a picture ({exc}). Use a PNG or JPEG file.") from None


def write_wav(audio: dict, dest: Path) -> Path:
    """ComfyUI AUDIO {"waveform": [1, C, S] float, "sample_rate"} -> 16-bit PCM WAV."""
    import numpy as np

    wave_data = audio["waveform"][0].detach().cpu().numpy()  # [C, S]
    pcm = (np.clip(wave_data, -1.0, 1.0) * 32767.0).round().astype("<i2")
    with wave.open(str(dest), "wb") as out:
        out.setnchannels(pcm.shape[0])
        out.setsampwidth(2)
        out.setframerate(int(audio["sample_rate"]))
        out.writeframes(np.ascontiguousarray(pcm.T).tobytes())
    return dest


def _printer(kind: str, data: dict) -> None:
    from .core.status_text import describe

    line = describe(kind, data)
    if line and kind != "downloading":  # byte counts would flood the terminal
        print(line, file=sys.stderr, flush=True)


def check_key() -> int:
    from .core import credentials
    from .core.client import ClientConfig, SegmindClient

    key = credentials.require_api_key(user_directory())  # a missing key: the message names both places
    _, source = credentials.load_api_key(user_directory())
    where = "SEGMIND_API_KEY" if source == "env" else str(credentials.key_file_path(user_directory()))
    data = SegmindClient(key, ClientConfig.from_env()).credits()
    print(f"Key OK (from {where}). Credits left: {data.get('credits')} (free credits: {data.get('free-credits', 0)})")
    return 0


def clear() -> int:
    from .core.result_cache import cache_directory, clear_cache

    folder = cache_directory(user_directory())
    print(f"Removed {clear_cache(folder)} cached clip(s) from {folder}")
    return 0


def generate(args: argparse.Namespace) -> dict[str, Any]:
    from . import comfy_host
    from .core.errors import InvalidInputError
    from .core.params import I2V_MODEL, T2V_MODEL, build_body
    from .core.video_decode import decode_video

    if not args.prompt:
        raise InvalidInputError("--prompt is missing: describe the video scene, e.g. --prompt \"waves roll in\".")
    if args.t2v and args.image:
        raise InvalidInputError("--t2v makes a clip from text alone: drop --image, or drop --t2v.")
    if not args.t2v and not args.image:
        raise InvalidInputError("--image is missing: give the first frame (--image photo.png), or use --t2v.")
    fields, model = (T2V_NUMBERS, T2V_MODEL) if args.t2v else (I2V_NUMBERS, I2V_MODEL)
    values = {f.name: getattr(args, f.name) for f in fields if getattr(args, f.name) is not None}
    body = build_body(fields, args.prompt, args.negative_prompt, values)
    picture = None if args.t2v else load_picture(args.image)
    out_dir = args.out or comfy_host.output_directory()
    try:  # now, not after a paid run: an unusable folder must fail before anything is sent
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInputError(f"--out {out_dir}: cannot use it as the output folder "
                                f"({exc.strerror or exc}). Give a writable folder.") from None

    if args.backend == "offline":
        from .core.offline_preview import generate_offline_clip

        print("Offline preview: rendering locally (free, nothing is sent)...", file=sys.stderr, flush=True)
        clip = generate_offline_clip(model, body, picture, out_dir)
        api_mode = _CLI_BACKENDS["offline"]
    else:
        from .core.image_encode import encode_image
        from .core.pipeline import API_MODES, GenerationRequest, run_on_segmind

        api_mode = API_MODES[_API_MODES[args.api_mode]]
        req = GenerationRequest(model=model, body=body, api_mode=api_mode,
                                image=None if picture is None else encode_image(picture, "png"))
        # Same cache and journal as the node: a clip paid for in ComfyUI is reused here, and back.
        clip = run_on_segmind(req, user_dir=user_directory(), output_dir=Path(out_dir),
                              on_event=_printer)

    decoded = decode_video(clip.path)
    wav = write_wav(decoded.audio, clip.path.with_suffix(".wav"))
    info = clip.info
    summary = {
        "video": str(clip.path), "audio": str(wav), "model": model, "backend": args.backend,
        "api_mode": api_mode, "width": decoded.width, "height": decoded.height,
        "frame_count": decoded.frame_count, "fps": decoded.fps,
        "duration_seconds": round(decoded.frame_count / decoded.fps, 3) if decoded.fps else None,
        "audio_sample_rate": decoded.audio["sample_rate"],
        "audio_channels": int(decoded.audio["waveform"].shape[1]),
        "cost": info.cost, "remaining_credits": info.remaining_credits, "request_id": info.request_id,
        "from_cache": bool(getattr(clip, "from_cache", False)), "request": body,
    }
    summary_path = clip.path.with_suffix(".json")
    summary["summary"] = str(summary_path)
    summary_path.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary


def _print_summary(s: dict[str, Any]) -> None:
    cost = "free (offline preview)" if s["backend"] == "offline" else (
        f"${s['cost']:.3f}" if s["cost"] is not None else "not reported")
    print(f"Video:   {s['video']}\n"
          f"         {s['width']}x{s['height']}, {s['frame_count']} frames @ {s['fps']:g} fps "
          f"({s['duration_seconds']} s)\n"
          f"Audio:   {s['audio']} ({s['audio_channels']} ch, {s['audio_sample_rate']} Hz)\n"
          f"Summary: {s['summary']}\n"
          f"Cost:    {cost}" + ("" if s["remaining_credits"] is None else f", credits left {s['remaining_credits']}"))


def main(argv: list[str] | None = None) -> int:
    from .core.errors import InvalidInputError, MissingAPIKeyError, SegmindError

    args = _parser().parse_args(argv)
    try:
        if args.clear_cache:
            clear()
        if args.check_key:
            return check_key()
        if args.clear_cache and not args.prompt:
            return 0
        _print_summary(generate(args))
        return 0
    except (InvalidInputError, MissingAPIKeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SegmindError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Interrupted. A job already submitted to Segmind keeps running (and is billed) there; "
              "it is recorded, so the same command run again within the hour collects it without "
              "paying again.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
