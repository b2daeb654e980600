"""Writing a clip like Segmind's: H.264 yuv420p video and stereo AAC, the sound given
whole up front (it is small: ten seconds at 24 kHz is under 2 MB) and interleaved with
the frames as they arrive. The file is written to `<name>.part` and renamed when
complete, so a failure or Cancel never leaves a half clip under the real name.

av and numpy are imported inside functions: importing this module stays cheap."""
from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Any

from .errors import Action, OutputFolderError

CRF = "18"           # visually lossless for re-encoded generated video; re-encoding is unavoidable at a seam
PRESET = "veryfast"  # 2-core machines: the join must not take longer than the clips took to download


class ClipWriter:
    """with ClipWriter(dest, width, height, fps, audio, rate) as w: w.write(frame) ...

    `frame` is uint8 RGB [H, W, 3] or an av.VideoFrame of the writer's size. `audio` is
    float32 [2, S] at `rate` covering the whole clip (None: no sound track)."""

    def __init__(self, dest: str | os.PathLike, width: int, height: int, fps: Fraction | int,
                 audio: Any = None, rate: int = 24000) -> None:
        if width % 2 or height % 2:
            raise ValueError(f"H.264 in yuv420p needs even sides, got {width}x{height}.")
        self.dest = Path(dest)
        self.width, self.height, self.fps = width, height, Fraction(fps)
        self.audio, self.rate = audio, rate
        self.frames = 0
        self._sent = 0
        self._part = self.dest.with_name(self.dest.name + ".part")
        self._container: Any = None

    def __enter__(self) -> "ClipWriter":
        import av

        try:
            self.dest.parent.mkdir(parents=True, exist_ok=True)
            self._container = av.open(str(self._part), "w", format="mp4")
        except (OSError, av.error.FFmpegError) as exc:
            raise OutputFolderError(f"Cannot write {self.dest} ({getattr(exc, 'strerror', None) or exc}): "
                                    f"{Action.OUTPUT_FOLDER}.") from None
        try:
            video = self._container.add_stream("libx264", rate=self.fps)
            video.width, video.height, video.pix_fmt = self.width, self.height, "yuv420p"
            video.options = {"preset": PRESET, "crf": CRF}
            self._video = video
            self._sound = (self._container.add_stream("aac", rate=self.rate, layout="stereo")
                           if self.audio is not None else None)
        except BaseException:  # __exit__ will not run: leave no .part behind
            self._container.close()
            self._part.unlink(missing_ok=True)
            raise
        return self

    def write(self, frame: Any) -> None:
        import av
        import numpy as np

        if isinstance(frame, np.ndarray):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame, dtype=np.uint8), format="rgb24")
            if (frame.width, frame.height) != (self.width, self.height):  # an odd side (even_size)
                frame = frame.reformat(width=self.width, height=self.height, format="yuv420p")
        else:
            if frame.format.name != "yuv420p" or (frame.width, frame.height) != (self.width, self.height):
                frame = frame.reformat(width=self.width, height=self.height, format="yuv420p")
            # A fresh frame over the same planes: none of the decoded frame's own timing, time
            # base or picture type (which the encoder would follow, and the muxer refuse when
            # it mixes with frames made here).
            frame = av.VideoFrame.from_ndarray(frame.to_ndarray(), format="yuv420p")
        if (frame.width, frame.height) != (self.width, self.height):
            raise ValueError(f"Frame {frame.width}x{frame.height} does not fit a {self.width}x{self.height} clip.")
        frame.pts = self.frames
        self._container.mux(self._video.encode(frame))
        self.frames += 1
        self._audio_until(int(round(self.frames / self.fps * self.rate)))

    def _audio_until(self, upto: int) -> None:
        import av
        import numpy as np

        if self._sound is None:
            return
        upto = min(upto, self.audio.shape[1])
        if upto <= self._sent:
            return
        chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(self.audio[:, self._sent:upto], dtype=np.float32),
                                           format="fltp", layout="stereo")
        chunk.sample_rate, chunk.pts = self.rate, self._sent
        self._container.mux(self._sound.encode(chunk))
        self._sent = upto

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        try:
            if exc_type is None:
                self._container.mux(self._video.encode(None))
                if self._sound is not None:
                    self._audio_until(self.audio.shape[1])  # the sound runs to its end
                    self._container.mux(self._sound.encode(None))
            self._container.close()
            if exc_type is None:
                os.replace(self._part, self.dest)
        finally:
            self._part.unlink(missing_ok=True)
