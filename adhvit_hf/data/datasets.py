"""Per-hand clip lists as `datasets.DatasetDict` (raw rows; decoding is attached later with `set_transform`)."""

from __future__ import annotations

import logging
import os

from datasets import Dataset, DatasetDict, Features, Value

from .clip_list import ClipRecord, read_clip_list


logger = logging.getLogger(__name__)

SPLIT_FILES = {
    "train": "train_list_video.txt",
    "validation": "val_list_video.txt",
    "test": "test_list_video.txt",
}
CLIP_FEATURES = Features(
    {
        "video": Value("string"),
        "start": Value("int64"),
        "end": Value("int64"),
        "label": Value("int64"),
        "hand": Value("string"),
    }
)


def records_to_dataset(records: list[ClipRecord]) -> Dataset:
    """Columns video, start, end, label, hand; a missing frame range is stored as -1."""
    return Dataset.from_dict(
        {
            "video": [r.video for r in records],
            "start": [-1 if r.start is None else r.start for r in records],
            "end": [-1 if r.end is None else r.end for r in records],
            "label": [r.label for r in records],
            "hand": [r.hand for r in records],
        },
        features=CLIP_FEATURES,
    )


def load_hand_splits(
    data_path: str,
    hand: str,
    num_classes: int,
    data_root: str | None = None,
    skip_missing: bool = False,
) -> DatasetDict:
    """Read `<data_path>/{train,val[,test]}_list_video.txt` into a DatasetDict with train/validation/test.

    Every list is checked before anything is returned (see `read_clip_list`); test falls back to the validation
    list when `test_list_video.txt` is absent. With `skip_missing`, the number of dropped clips per split is in
    the returned dict's `num_skipped_missing` attribute.
    """
    splits, skipped = {}, {}
    for split, file_name in SPLIT_FILES.items():
        list_path = os.path.join(data_path, file_name)
        if split == "test" and not os.path.isfile(list_path):
            logger.info("%s not found; the %s test split uses the validation list", list_path, hand)
            splits[split], skipped[split] = splits["validation"], skipped["validation"]
            continue
        records = read_clip_list(list_path, data_root, num_classes, hand, skip_missing=skip_missing)
        splits[split] = records_to_dataset(records)
        skipped[split] = records.num_skipped_missing
    dataset_dict = DatasetDict(splits)
    dataset_dict.num_skipped_missing = skipped
    return dataset_dict
