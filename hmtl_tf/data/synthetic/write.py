"""``write_datasets``: the four synthetic datasets under one root in the published layouts (SPEC section 2).

``data_prep.make_synthetic`` is its command line; ``hmtl_tf.data.smoke`` renders the smoke-scale data with it.
"""
from __future__ import annotations

import os
from typing import Dict, Sequence, Union

from hmtl_tf.data.synthetic.layouts.aflw2000 import _write_aflw2000
from hmtl_tf.data.synthetic.layouts.biwi import _write_biwi
from hmtl_tf.data.synthetic.layouts.eth_xgaze import _write_xgaze, xgaze_subject_ids
from hmtl_tf.data.synthetic.layouts.files import _merge_json
from hmtl_tf.data.synthetic.layouts.w300lp import _write_300wlp

# Bumped whenever a layout draws different samples for the same (seed, index): 2 = AFLW2000-layout poses drawn from
# the training layout's distribution (2026-12-03). The smoke / demo data directories are keyed by it.
SYNTHETIC_VERSION = 2


def write_datasets(out_dir: str, seed: int = 0, n_300wlp: int = 300, n_aflw2000: int = 100,
                   biwi_sequences: int = 2, biwi_frames: int = 30,
                   xgaze_subjects: Union[int, Sequence[int]] = 5, xgaze_per_subject: int = 40,
                   progress: bool = True) -> Dict[str, dict]:
    """Write the four synthetic datasets under ``out_dir`` in the published layouts and return the ground truth.

    ``out_dir/300W_LP/{AFW,HELEN,IBUG,LFPW}[_Flip]/<name>.{jpg,mat}`` (``n_300wlp`` samples + as many flipped),
    ``out_dir/AFLW2000/imageNNNNN.{jpg,mat}``, ``out_dir/BIWI/hpdb/NN/frame_XXXXX_{rgb.png,pose.txt}`` +
    ``rgb.cal``/``depth.cal`` and ``out_dir/BIWI/BIWI.json`` (KD-OE box format), ``out_dir/xgaze_224/{train,test}/
    subjectNNNN.h5`` + ``train_test_split.json``. Every sample is seeded by (seed, dataset, index); files that
    exist are never rewritten (missing ones are filled in, identically). Returns ``{dataset: {source_id: {"ypr":
    (yaw, pitch, roll) deg, "landmarks68", "visibility68", ...}}}`` (source id = path without extension relative
    to the dataset root, as the readers of ``hmtl_tf.data.sources`` name them; ETH-XGaze: ``subjectNNNN/<row:06d>``).
    """
    for name, v in (("n_300wlp", n_300wlp), ("n_aflw2000", n_aflw2000), ("biwi_sequences", biwi_sequences),
                    ("biwi_frames", biwi_frames), ("xgaze_per_subject", xgaze_per_subject)):
        if int(v) < 0:
            raise ValueError(f"{name}: expected a count >= 0, got {v}")
    out = {"300w_lp": _write_300wlp(os.path.join(out_dir, "300W_LP"), seed, n_300wlp, progress),
           "aflw2000": _write_aflw2000(os.path.join(out_dir, "AFLW2000"), seed, n_aflw2000, progress)}
    out["biwi"], boxes = _write_biwi(os.path.join(out_dir, "BIWI", "hpdb"), seed, biwi_sequences, biwi_frames,
                                     progress)
    if boxes:
        _merge_json(os.path.join(out_dir, "BIWI", "BIWI.json"), boxes, merge_lists=False)
    n_x = len(xgaze_subject_ids(xgaze_subjects))
    if n_x and xgaze_per_subject:
        out["eth_xgaze"], split = _write_xgaze(os.path.join(out_dir, "xgaze_224"), seed, xgaze_subjects,
                                               xgaze_per_subject, progress)
        _merge_json(os.path.join(out_dir, "xgaze_224", "train_test_split.json"), split, merge_lists=True)
    else:
        out["eth_xgaze"] = {}
    return out
