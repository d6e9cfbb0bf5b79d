"""The time-based media part of the contract: what the server's probe tells a modality about a file (`MediaInfo`),
the derived assets a modality asks for (`Derivative`), and the progress/cancel/checkpoint handle a long
`predict` receives (`Report`).

A leaf module: it imports nothing from server/, so modality packages and the sandbox child can use it.

Times in payloads are integer milliseconds or frame numbers; `MediaInfo` keeps frame rates as a rational
(numerator/denominator) for the same reason: 30000/1001 is not 29.97.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable, Protocol


@dataclass
class MediaInfo:
    """Facts about one media file, measured by the server's sandboxed probe (never trusted from headers alone)."""

    container: str = ""  # demuxer name as FFmpeg reports it ("wav", "mov,mp4,m4a,3gp,3g2,mj2", ...)
    duration_ms: int = 0  # measured from packet timestamps; `header_duration_ms` is what the header claimed
    header_duration_ms: int | None = None
    start_ms: int = 0  # first presentation time (files may start at 10 s: normalise before showing)
    has_audio: bool = False
    has_video: bool = False
    audio_codec: str | None = None
    sample_rate: int | None = None
    channels: int | None = None
    video_codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps_num: int | None = None  # nominal frame rate as a rational
    fps_den: int | None = None
    frame_count: int | None = None  # counted from demuxed video packets, not the header
    rotation: int = 0  # degrees clockwise the player must rotate the picture
    bit_rate: int | None = None
    warnings: list[str] = field(default_factory=list)  # e.g. "header claims 36000 s, data holds 2 s"

    @property
    def codec(self) -> str | None:
        return self.video_codec or self.audio_codec

    @property
    def fps(self) -> float | None:
        return self.fps_num / self.fps_den if self.fps_num and self.fps_den else None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> "MediaInfo | None":
        if not data:
            return None
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Derivative:
    """One derived asset of an item (waveform peaks, frame index, browser proxy, thumbnails).

    `make(view, out_dir)` writes one file into `out_dir` and returns its file name (or a dict {"file", "media_type",
    "meta"}). It runs in a sandboxed child process (memory, CPU and wall-clock limits) when `sandboxed`, so a file
    that crashes the decoder marks the item invalid instead of killing the worker: `make` must then be a
    module-level function the child can import. The result is stored content-addressed as the item's asset
    `name`, served at /api/v1/items/{id}/media?variant=NAME.
    """

    name: str
    make: Callable[[Any, str], str | dict]
    media_type: str = "application/octet-stream"
    version: str = "1"  # bump when the output changes: assets of an older producer version are rebuilt
    queue: str = "cpu"
    sandboxed: bool = True
    # "always" | callable(MediaInfo) -> bool: e.g. a proxy only when the source is not browser-playable.
    when: Callable[[MediaInfo | None], bool] | None = None
    timeout_s: int | None = None  # wall clock; None: the server's default scaled by the media duration
    # JSON handed to `make` as a third argument when not None (a project's settings: Modality.project_derivatives)
    options: dict | None = None


class Report(Protocol):
    """Handed to `predict(items, report)`: progress, cancellation and checkpoints for long items."""

    def progress(self, done: float, total: float | None = None, unit: str = "items") -> None:
        """Report progress in "items" or "seconds" (of media). Renews the job's lease; raises JobCancelled when a
        user cancelled (so call it inside long items, not only between them)."""

    def check_cancelled(self) -> None:
        """Raise JobCancelled when the job was cancelled (cheap; rate-limited reads)."""

    def checkpoint(self, item_id: int, payload: dict, state: dict) -> None:
        """Store a partial result of one item: `payload` becomes a visible partial model draft (written
        idempotently under the same key as the final one), `state` (JSON) is handed back by `resume` after a
        worker was lost, so a 2-hour file resumes from its last checkpoint instead of from zero."""

    def resume(self, item_id: int) -> tuple[dict, dict] | None:
        """(payload, state) of this item's last checkpoint for this model version, or None."""


def seconds_to_ms(seconds: float) -> int:
    return int(round(seconds * 1000))
