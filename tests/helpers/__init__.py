# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Helpers of the test suite (imported as `helpers.X`; fixtures live in tests/conftest.py).

Importing this package first gives the suite the environment it needs, whatever the caller's shell has, before any
helper imports huggingface_hub or transformers (both read these variables once, at import): an empty HF home of its
own per session (no cached registry, token or model from the user's machine) and the offline switches, so nothing
reaches the network; tests of the local Hub switch back on what they need. conftest.py imports helpers first.
"""

import atexit
import os
import shutil
import tempfile


SESSION_HF_HOME = tempfile.mkdtemp(prefix="adhvit_test_hf_home_")
atexit.register(shutil.rmtree, SESSION_HF_HOME, ignore_errors=True)
TEST_ENVIRONMENT = {
    "HF_HOME": SESSION_HF_HOME,
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
}
for _name in ("HF_TOKEN", "HF_ENDPOINT", "HF_HUB_CACHE", "HF_MODULES_CACHE", "HUGGINGFACE_HUB_CACHE"):
    os.environ.pop(_name, None)
os.environ.update(TEST_ENVIRONMENT)
