# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""The `app.py` of a Hugging Face Space serving the ADH-ViT app on one model.

`adhvit_hf.publishing.push_space` uploads this file as the Space's app.py with MODEL_ID (and STRIDE) filled in; the
Space installs this package and Gradio from its requirements.txt and runs `python app.py`.
"""

from adhvit_hf.app import build_app, load_app_model


MODEL_ID = "owner/model"
STRIDE = None

demo = build_app(load_app_model(MODEL_ID, stride=STRIDE), title=f"ADH-ViT: both hands' actions ({MODEL_ID})")

if __name__ == "__main__":
    demo.queue(default_concurrency_limit=1).launch()
