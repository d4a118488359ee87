# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Top-1, top-5 and mean class accuracy of video action classification, from class scores.

An `evaluate` metric module shipped inside adhvit_hf, so it loads offline with
`evaluate.load(path_to_this_file)`; `evaluate.load` of a Hub metric would need the network.
HA-ViD is long-tailed, so mean class accuracy (the mean of per-class recall over the classes that
occur in the references) is reported beside top-k.
"""

import datasets
import evaluate
import numpy as np


_DESCRIPTION = "Top-1, top-5 and mean class accuracy from per-class scores (one row of scores per video)."

_KWARGS_DESCRIPTION = """
Args:
    predictions: per-class scores, one list per video (probabilities averaged over the views).
    references: the true class id of each video.
    top_k: the k of the top-k accuracy besides top-1 (default 5; capped at the number of classes).
Returns:
    top1, top5 (named after top_k), mean_class_acc: floats in [0, 100].
"""


class ActionAccuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Sequence(datasets.Value("float32")), "references": datasets.Value("int64")}
            ),
        )

    def _compute(self, predictions, references, top_k: int = 5):
        scores = np.asarray(predictions, dtype=np.float64)
        labels = np.asarray(references, dtype=np.int64)
        # A stable sort keeps ties in class order, so equal scores rank the same way everywhere.
        ranking = np.argsort(-scores, axis=1, kind="stable")
        top1_hit = ranking[:, 0] == labels
        topk_hit = (ranking[:, : min(top_k, scores.shape[1])] == labels[:, None]).any(axis=1)
        per_class = [top1_hit[labels == c].mean() for c in np.unique(labels)]
        return {
            "top1": 100.0 * float(top1_hit.mean()),
            f"top{top_k}": 100.0 * float(topk_hit.mean()),
            "mean_class_acc": 100.0 * float(np.mean(per_class)),
        }
