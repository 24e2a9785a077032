"""Warm-up of the rows that start from pre-trained weights (issue 12 item 7, HMTL Sec. 4.3 "All fine-tuning start
with 5 epochs of warmup"): every HMTL table row with ``--init=imagenet`` or a pre-trained weights file resolves to
``warmup_epochs=5`` at paper scale (SMOKE_WARMUP at smoke scale), every random-init row to 0; the KD-OE and MNN rows
follow their own papers (no warm-up stated) and KD-OE trains on the eight 300W-LP folders (their 122,450)."""
import pytest

from experiments import kdoe, mnn
from experiments.mnn import row_config
from experiments.plan import TABLES, table_module
from experiments.rows import FINE_TUNE_WARMUP, SMOKE_WARMUP
from hmtl_tf import config as C

HMTL_ROWS = [(n, r) for n in TABLES for r in table_module(n).ROWS if not r.is_literature]


def _pretrained(cfg) -> bool:
    return cfg.model.init not in ("", "random")


@pytest.mark.parametrize("n,row", HMTL_ROWS, ids=[f"t{n}-{r.key}" for n, r in HMTL_ROWS])
def test_hmtl_rows_warm_up_exactly_when_fine_tuning(n, row):
    paper = row_config(row, "paper")
    smoke = row_config(row, "smoke")
    if _pretrained(paper):
        assert paper.optim.warmup_epochs == FINE_TUNE_WARMUP == 5
        assert smoke.optim.warmup_epochs == SMOKE_WARMUP
    else:
        assert paper.optim.warmup_epochs == 0 and smoke.optim.warmup_epochs == 0
    assert list(paper.data.w300lp_subsets) == list(C.W300LP_ORIGINALS)  # Sec. 3.4: 61,225 images


def test_every_pretrained_source_is_covered():
    inits = {("imagenet" if row_config(r, "paper").model.init == "imagenet" else "file")
             for _, r in HMTL_ROWS if _pretrained(row_config(r, "paper"))}
    assert inits == {"imagenet", "file"}
    le = [r for n, r in HMTL_ROWS if n == 4 and r.key.startswith("le_")]
    assert le and all(row_config(r, "paper").optim.warmup_epochs == 5 for r in le)  # "same hyperparameter settings"


def test_kdoe_and_mnn_rows_follow_their_papers():
    for r in kdoe.ROWS:
        if r.teacher:  # distill rows: the student copies stage 1's optimiser set-up, no warm-up flag
            assert not any(a.startswith("--warmup_epochs") for a in r.train_argv("runs", "paper"))
            continue
        cfg = row_config(r, "paper")
        assert cfg.model.init == "imagenet" and cfg.optim.warmup_epochs == 0
        assert C.w300lp_subsets(cfg.data) == C.W300LP_SUBSETS  # KD-OE Sec. 4.1: 122,450 images
    pre = [r for r in mnn.ROWS if r.init_run is not None]
    assert pre and all(row_config(r, "paper").optim.warmup_epochs == 0 for r in mnn.ROWS)
    assert all(list(row_config(r, "paper").data.w300lp_subsets) == list(C.W300LP_ORIGINALS) for r in mnn.ROWS)
