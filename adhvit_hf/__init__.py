"""ADH-ViT as a native Hugging Face Transformers package."""
