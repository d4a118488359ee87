# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""The app's page: upload a video, watch both hands' timelines fill in and follow the playback.

`build_app(app_model)` returns the `gr.Blocks`: the video (`adhvit-video`), both hands' timelines (`adhvit-timeline`,
drawn by `timeline_view`), each hand's action at the playhead (`adhvit-now`), a status line with the progress of the
analysis, the downloads, and the model's labels. `api_name="analyse"` serves the same analysis as JSON.

Private by default: analytics are off, and every file of a session (its upload, the display copy, the downloads) is
removed when the session ends (the tab is closed or reloaded) or, for an API call, when the call returns.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gradio as gr
from gradio import processing_utils

from ..configuration_adhvit import HAND_NAMES
from .analysis import AnalysisError, AppModel, analyse_video, short_video_note, write_downloads
from .timeline_view import EMPTY_TIMELINE, TIMELINE_CSS, TIMELINE_JS, now_text, timeline_html


logger = logging.getLogger(__name__)

# Seconds between two updates of the page while a video is analysed (the first window's results go out at once).
UPDATE_EVERY = 0.5
SESSIONS_FOLDER = "adhvit-sessions"
# Display copies are made one at a time, beside the analyses.
DISPLAY_COPIES = ThreadPoolExecutor(max_workers=1, thread_name_prefix="adhvit-display-copy")
# gradio gives a function whose parameter defaults to a `gr.Progress` the progress bar of its call.
PROGRESS = gr.Progress()


class SessionFiles:
    """Files a session made or uploaded, removed when it ends; an upload two sessions share stays until both end."""

    def __init__(self, cache_dir: str | os.PathLike):
        self.root = Path(cache_dir) / SESSIONS_FOLDER
        self._uploads: dict[str, set[str]] = {}  # upload path -> sessions holding it
        self._lock = threading.Lock()

    def folder(self, session: str) -> Path:
        """This session's own folder (downloads, display copies), inside gradio's cache so it is served as is."""
        folder = self.root / session
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def hold(self, session: str, upload: str) -> None:
        with self._lock:
            self._uploads.setdefault(upload, set()).add(session)

    def release(self, session: str) -> None:
        """Removes the session's folder and every upload no other session holds."""
        with self._lock:
            orphans = []
            for upload, sessions in list(self._uploads.items()):
                sessions.discard(session)
                if not sessions:
                    orphans.append(upload)
                    del self._uploads[upload]
        shutil.rmtree(self.root / session, ignore_errors=True)
        for upload in orphans:
            remove_upload(upload)


def remove_upload(path: str) -> None:
    """Deletes an uploaded file and the one-file folder gradio made for it."""
    path = Path(path)
    path.unlink(missing_ok=True)
    try:
        path.parent.rmdir()
    except OSError:
        pass  # not empty: another file with the same content's folder, kept


def display_copy(path: str, folder: Path) -> str | None:
    """An MP4 copy of `path` that browsers can play (made by gradio's converter), or None when `path` plays as is."""
    if processing_utils.video_is_playable(path):
        return None
    copy = processing_utils.convert_video_to_playable_mp4(path, cache_dir=str(folder))
    return None if copy == path else copy


def labels_markdown(app: AppModel) -> str:
    labels = app.labels
    lines = [
        f"**Model** `{app.source}`: windows of {app.processor.num_frames} frames every "
        f"{app.processor.sampling_rate}, one every {app.stride} frames, {'bf16' if app.bf16 else 'fp32'}."
    ]
    for hand in ("lh", "rh"):
        lines.append(f"**{HAND_NAMES[hand].capitalize()}** ({len(labels[hand])}): {', '.join(labels[hand])}")
    return "\n\n".join(lines)


def _status(analysis) -> str:
    seconds = analysis.frames_done / (analysis.fps or 1.0)
    total = analysis.num_frames / (analysis.fps or 1.0)
    if analysis.complete:
        return f"**{analysis.name}**: done, {analysis.num_windows} windows over {total:.1f} s."
    return (
        f"**{analysis.name}**: {analysis.windows_done} of {analysis.num_windows} windows, timelines up to "
        f"{seconds:.1f} of {total:.1f} s."
    )


def build_app(app: AppModel, title: str = "ADH-ViT: both hands' actions") -> gr.Blocks:
    """The app's `gr.Blocks` serving `app` (launch it with `.launch()`)."""
    with gr.Blocks(title=title, analytics_enabled=False, delete_cache=(600, 3600)) as demo:
        sessions = SessionFiles(demo.GRADIO_CACHE)
        gr.Markdown(
            f"## {title}\nUpload a video: both hands' timelines appear under it as it is analysed and "
            "follow the playback. Click a timeline to jump there."
        )
        video = gr.Video(label="Video", sources=["upload"], elem_id="adhvit-video", height=420)
        status = gr.Markdown("", elem_id="adhvit-status")
        timeline = gr.HTML(
            EMPTY_TIMELINE, elem_id="adhvit-timeline", css_template=TIMELINE_CSS, js_on_load=TIMELINE_JS
        )
        gr.HTML(now_text("No video analysed yet."), elem_id="adhvit-now", js_on_load=None)
        downloads = gr.File(
            label="Downloads: segments (JSON, CSV), timeline picture, per-frame features (.npy)",
            file_count="multiple",
            interactive=False,
            elem_id="adhvit-downloads",
        )
        with gr.Accordion("Model and labels", open=True):
            gr.Markdown(labels_markdown(app), elem_id="adhvit-model")

        def run(path: str | None, request: gr.Request, progress=PROGRESS) -> Iterator[tuple]:
            session = request.session_hash or "anonymous"
            if path:
                sessions.hold(session, path)
            folder = sessions.folder(session)
            # The display copy (when the browser cannot play the file) is made beside the analysis, once the video
            # has decoded, so neither waits for the other; the page gets it when it is ready, at the latest last.
            copying, copy_shown = None, False
            try:
                last = 0.0
                for analysis in analyse_video(app, path, name=Path(path).name if path else None):
                    copying = copying or DISPLAY_COPIES.submit(display_copy, path, folder)
                    progress((analysis.windows_done, analysis.num_windows), unit="windows")
                    if analysis.complete or time.monotonic() - last >= UPDATE_EVERY:
                        last = time.monotonic()
                        shown = gr.skip()
                        if not copy_shown and (copying.done() or analysis.complete):
                            shown, copy_shown = copying.result() or gr.skip(), True
                        files = write_downloads(analysis, app.model.config, folder) if analysis.complete else None
                        note = short_video_note(app, analysis) if analysis.complete else None
                        yield (
                            shown,
                            timeline_html(analysis, app.labels),
                            _status(analysis) + (f"\n\n{note}" if note else ""),
                            files,
                        )
            except AnalysisError as error:
                yield gr.skip(), EMPTY_TIMELINE, f"**Cannot analyse this video.** {error}", None
                raise gr.Error(str(error), duration=None, print_exception=False) from None

        def clear() -> tuple:
            return EMPTY_TIMELINE, "", None

        video.upload(
            run,
            inputs=video,
            outputs=[video, timeline, status, downloads],
            show_progress="full",
            show_progress_on=[timeline],
            api_visibility="private",
        )
        video.clear(clear, outputs=[timeline, status, downloads], api_visibility="private")

        api_video = gr.File(visible=False, label="video")
        api_result = gr.JSON(visible=False, label="segments")

        def analyse(path: str | None) -> Iterator[dict]:
            """Both hands' segments of a video as JSON: fps, num_frames, left_hand, right_hand; yields the
            frames analysed so far after each batch of windows, the complete answer last."""
            call = f"api-{uuid.uuid4().hex}"
            if path:
                sessions.hold(call, path)
            try:
                last = 0.0
                for analysis in analyse_video(app, path, name=Path(path).name if path else None):
                    if analysis.complete or time.monotonic() - last >= UPDATE_EVERY:
                        last = time.monotonic()
                        yield analysis.to_json()
            except AnalysisError as error:
                raise gr.Error(str(error), print_exception=False) from None
            finally:
                sessions.release(call)

        gr.Button(visible=False).click(analyse, inputs=api_video, outputs=api_result, api_name="analyse")

        def end_session(request: gr.Request) -> None:
            sessions.release(request.session_hash or "anonymous")

        demo.unload(end_session)
    return demo
