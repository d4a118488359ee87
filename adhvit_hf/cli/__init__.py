"""The command-line programs; `scripts/*.py` and the `adhvit-*` console scripts call `cli()` of these modules."""
