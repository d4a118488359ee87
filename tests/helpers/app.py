# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""A served app on a tiny model, demo-like videos, and a headless Chromium for the app tests."""

import os
import socket

import numpy as np
import pytest

from adhvit_hf.data.demo import render_video


# Both hands' motions, two seconds each: a video with an action change every two seconds, like a short recording.
DEMO_SEQUENCE = [
    ("move_up", "grow"),
    ("move_left", "shrink"),
    ("grow", "move_right"),
    ("shrink", "move_down"),
    ("move_right", "move_up"),
    ("move_down", "move_left"),
]
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
INSTALL_CHROMIUM = "Chromium is not installed: apt-get install chromium chromium-driver"
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def demo_sequence_frames(seed: int = 0) -> np.ndarray:
    """The demo's moving squares, one `DEMO_SEQUENCE` pair every two seconds (16 fps, 64 x 64)."""
    rng = np.random.default_rng(seed)
    return np.concatenate([render_video(lh, rh, rng) for lh, rh in DEMO_SEQUENCE])


def chromium_or_skip():
    """Paths of Chromium and its driver; outside CI a missing Chromium skips with how to install it, in CI it fails."""
    if os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER):
        return CHROMIUM, CHROMEDRIVER
    if os.environ.get("CI"):
        pytest.fail(INSTALL_CHROMIUM)
    pytest.skip(INSTALL_CHROMIUM)


def headless_chromium(user_data_dir):
    """A Selenium driver for Debian's headless Chromium that makes no request of its own (fresh profile)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver = chromium_or_skip()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1200,1100",
        f"--user-data-dir={user_data_dir}",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(driver), options=options)


class ConnectionRecorder:
    """Records every host name this process looks up and every address it connects to (monkeypatched `socket`)."""

    def __init__(self, monkeypatch):
        self.addresses, self.lookups = [], []
        connect, getaddrinfo = socket.socket.connect, socket.getaddrinfo

        def recording_connect(sock, address):
            self.addresses.append(address)
            return connect(sock, address)

        def recording_getaddrinfo(host, *args, **kwargs):
            self.lookups.append(host)
            return getaddrinfo(host, *args, **kwargs)

        monkeypatch.setattr(socket.socket, "connect", recording_connect)
        monkeypatch.setattr(socket, "getaddrinfo", recording_getaddrinfo)

    def outbound(self) -> list:
        """The look-ups of and connections to anything but this machine."""
        hosts = [host for host in self.lookups if host is not None and not is_loopback(host)]
        return hosts + [
            address for address in self.addresses if isinstance(address, tuple) and not is_loopback(address[0])
        ]


def is_loopback(host) -> bool:
    return str(host) in LOOPBACK or str(host).startswith("127.")
