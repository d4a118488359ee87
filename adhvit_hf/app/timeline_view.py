# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Both hands' timelines as HTML (one SVG bar per hand), and the page script that syncs them with the video.

The HTML is drawn from the segments: one `<rect>` per segment carrying its frames, times, label and confidence as
data attributes, a colour per label from the model's whole label list (so a label keeps its colour across both hands
and while results stream in), a legend of the labels present, and the `adhvit-playhead` element whose `data-time`
the script keeps at the video's playback time. `TIMELINE_JS` runs once per page (`gr.HTML(js_on_load=...)`): it
follows the video's `timeupdate`/`seeked` events, writes each hand's action at the playhead into `adhvit-now`, seeks
the video where a timeline is clicked and shows a tooltip over the segment under the pointer.
"""

from __future__ import annotations

from html import escape

from ..configuration_adhvit import HAND_NAMES
from ..inference.timeline import label_hex_colours, labels_present
from .analysis import JSON_KEYS, Analysis


def model_colours(labels: dict[str, list[str]]) -> dict[str, str]:
    """A hex colour per label of the model (both hands' labels, a shared label once), fixed for the session."""
    every = list(dict.fromkeys(label for hand in JSON_KEYS for label in labels[hand]))
    return label_hex_colours(every)


def _seconds(value: float) -> str:
    return f"{value:.2f}"


def timeline_html(analysis: Analysis, labels: dict[str, list[str]]) -> str:
    """The timelines of `analysis` (complete or not) for the `adhvit-timeline` element."""
    colours = model_colours(labels)
    fps = analysis.fps or 1.0
    duration = analysis.num_frames / fps
    rows = []
    for hand, key in JSON_KEYS.items():
        rects = []
        for segment in analysis.segments[hand]:
            start, end = segment["start_frame"], segment["end_frame"]
            label = escape(segment["label"])
            rects.append(
                f'<rect x="{start}" y="0" width="{end + 1 - start}" height="1" fill="{colours[segment["label"]]}" '
                f'data-label="{label}" data-start-frame="{start}" data-end-frame="{end}" '
                f'data-start="{_seconds(start / fps)}" data-end="{_seconds((end + 1) / fps)}" '
                f'data-confidence="{segment["confidence"]:.3f}"></rect>'
            )
        rows.append(
            f'<svg class="adhvit-track" data-hand="{key}" data-name="{escape(HAND_NAMES[hand])}" '
            f'viewBox="0 0 {analysis.num_frames} 1" preserveAspectRatio="none" role="img" '
            f'aria-label="{escape(HAND_NAMES[hand])} timeline">{"".join(rects)}</svg>'
        )
    names = "".join(f'<div class="adhvit-hand">{escape(HAND_NAMES[hand])}</div>' for hand in JSON_KEYS)
    legend = "".join(
        f'<span class="adhvit-legend-item"><span class="adhvit-swatch" style="background:{colours[label]}"></span>'
        f"{escape(label)}</span>"
        for label in labels_present(analysis.segments, labels)
    )
    ticks = "".join(f'<span style="left:{100 * i / 4:.1f}%">{_seconds(duration * i / 4)} s</span>' for i in range(5))
    pending = 100 * (1 - analysis.frames_done / max(analysis.num_frames, 1))
    return (
        f'<div class="adhvit-tl" data-duration="{duration:.6f}" data-fps="{fps:.6f}" '
        f'data-num-frames="{analysis.num_frames}" data-frames-done="{analysis.frames_done}">'
        f'<div class="adhvit-names">{names}</div>'
        f'<div class="adhvit-tracks">{"".join(rows)}'
        f'<div class="adhvit-pending" style="width:{pending:.3f}%"></div>'
        '<div class="adhvit-playhead" data-time="0"></div></div>'
        f'<div></div><div class="adhvit-axis">{ticks}</div></div>'
        f'<div class="adhvit-legend">{legend}</div>'
        '<div class="adhvit-tooltip" hidden></div>'
    )


def now_text(message: str) -> str:
    """The content of the `adhvit-now` element before the script writes the playhead's actions into it."""
    return f'<div class="adhvit-now-text">{escape(message)}</div>'


EMPTY_TIMELINE = (
    '<div class="adhvit-empty">Upload a video: both hands\' timelines appear here as it is analysed.</div>'
)

TIMELINE_CSS = """
.adhvit-tl { display: grid; grid-template-columns: 7em 1fr; row-gap: 2px; font-size: 0.9em; }
.adhvit-names { display: flex; flex-direction: column; }
.adhvit-hand { height: 28px; line-height: 28px; margin-bottom: 4px; }
.adhvit-tracks { position: relative; cursor: pointer; background: #e5e7eb; }
.adhvit-track { display: block; width: 100%; height: 28px; margin-bottom: 4px; }
.adhvit-pending { position: absolute; top: 0; right: 0; bottom: 0; pointer-events: none;
  background: repeating-linear-gradient(45deg, #d1d5db, #d1d5db 6px, #e5e7eb 6px, #e5e7eb 12px); }
.adhvit-playhead { position: absolute; top: -3px; bottom: -3px; left: 0; width: 2px; margin-left: -1px;
  background: #111827; pointer-events: none; }
.adhvit-axis { position: relative; height: 1.4em; color: #6b7280; font-size: 0.85em; }
.adhvit-axis span { position: absolute; transform: translateX(-50%); white-space: nowrap; }
.adhvit-axis span:first-child { transform: none; }
.adhvit-axis span:last-child { transform: translateX(-100%); }
.adhvit-legend { display: flex; flex-wrap: wrap; gap: 4px 14px; margin-top: 6px; font-size: 0.85em; }
.adhvit-swatch { display: inline-block; width: 0.9em; height: 0.9em; margin-right: 4px; vertical-align: -0.1em; }
.adhvit-tooltip { position: fixed; z-index: 1000; padding: 4px 8px; border-radius: 4px; font-size: 0.85em;
  background: #111827; color: white; pointer-events: none; white-space: nowrap; }
.adhvit-empty { color: #6b7280; padding: 1em 0; }
"""

TIMELINE_JS = """
const videoOf = () => document.querySelector('#adhvit-video video');
const timelineOf = () => element.querySelector('.adhvit-tl');
const pct = (value) => Math.round(100 * value) + '%';

function show(time) {
  const timeline = timelineOf();
  const now = document.querySelector('#adhvit-now .adhvit-now-text');
  if (!timeline) return;
  const duration = parseFloat(timeline.dataset.duration);
  const fps = parseFloat(timeline.dataset.fps);
  const head = timeline.querySelector('.adhvit-playhead');
  head.dataset.time = time.toFixed(3);
  head.style.left = (100 * Math.min(Math.max(time / duration, 0), 1)) + '%';
  // The frame on screen at `time`: frame i shows from i / fps to (i + 1) / fps.
  const frame = Math.min(Math.floor(time * fps + 1e-6), parseInt(timeline.dataset.numFrames) - 1);
  const parts = [];
  timeline.querySelectorAll('.adhvit-track').forEach((track) => {
    const segment = Array.from(track.querySelectorAll('rect')).find(
      (rect) => parseInt(rect.dataset.startFrame) <= frame && frame <= parseInt(rect.dataset.endFrame));
    parts.push(track.dataset.name + ': ' +
      (segment ? segment.dataset.label + ' (' + pct(segment.dataset.confidence) + ')' : 'not analysed yet'));
  });
  if (now) now.textContent = time.toFixed(2) + ' s \\u2014 ' + parts.join(' \\u00b7 ');
}

function follow(event) {
  const video = event.target;
  if (video instanceof HTMLVideoElement && video.closest('#adhvit-video')) show(video.currentTime);
}
['timeupdate', 'seeked', 'loadedmetadata'].forEach((name) => document.addEventListener(name, follow, true));
watch('value', () => { const video = videoOf(); show(video ? video.currentTime : 0); });

element.addEventListener('click', (event) => {
  const tracks = event.target.closest('.adhvit-tracks');
  const timeline = timelineOf();
  const video = videoOf();
  if (!tracks || !timeline || !video) return;
  const box = tracks.getBoundingClientRect();
  const fraction = Math.min(Math.max((event.clientX - box.left) / box.width, 0), 1);
  video.currentTime = fraction * parseFloat(timeline.dataset.duration);
  show(video.currentTime);
});

element.addEventListener('mousemove', (event) => {
  const tooltip = element.querySelector('.adhvit-tooltip');
  if (!tooltip) return;
  const rect = event.target.closest('rect');
  if (!rect) { tooltip.hidden = true; return; }
  const track = rect.closest('.adhvit-track');
  tooltip.textContent = track.dataset.name + ': ' + rect.dataset.label + ', ' + rect.dataset.start + '\\u2013' +
    rect.dataset.end + ' s, confidence ' + pct(rect.dataset.confidence);
  tooltip.style.left = (event.clientX + 12) + 'px';
  tooltip.style.top = (event.clientY + 12) + 'px';
  tooltip.hidden = false;
});
element.addEventListener('mouseleave', () => {
  const tooltip = element.querySelector('.adhvit-tooltip');
  if (tooltip) tooltip.hidden = true;
});
"""
