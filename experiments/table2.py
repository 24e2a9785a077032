"""Table 2 (Sec. 4.2, Figs. 6-7): SL (our HopeNet) and HMTL on AFLW2000, trained on 300W-LP.

HopeNet heads (66 bins of 3 degrees; "+" = 1-degree bins), alpha 2, 110 epochs, LR 1e-3 x0.1 at epochs 20 and 100,
dropout 0.5 / 0.2, SSL losses x50 at flag 3 (Eq. 2). Rows marked * are the same trained models as their unstarred
twins (SL / HMTL 3×3, level 2: one run each), evaluated on all 2,000 AFLW2000 images; the others on the reduced
1,969. Every run reports its final epoch (no model selection, SPEC 8) and also evaluates the full set
(``--extra_test=aflw2000_full``), whose per-epoch curve is Fig. 6 (monitoring only). Literature rows carry the
paper's numbers only.

Commands (paper scale; ``python -m experiments.run --table=2 --print_commands`` prints them for any scale):
    python -m hmtl_tf.pretrain --method=rotation2x2 --train=eth_xgaze --out=runs/paper/pretrain/eth_rotation2x2.weights.h5 --scale=paper --linear_probe
    python -m hmtl_tf.pretrain --method=puzzle2x2 --train=eth_xgaze --out=runs/paper/pretrain/eth_puzzle2x2.weights.h5 --scale=paper --linear_probe
  sl_aug1 (SL, Augmentation 1, Pre train weights -):
    python -m hmtl_tf.train --run=runs/paper/sl_aug1 --scale=paper --train=300w_lp --val=aflw2000 --extra_test=aflw2000_full --head=hopenet --bin_size=3 --alpha=2 --dropout=0.5 --epochs=110 --lr=0.001 --schedule=step --lr_drops=20,100 --ssl_weight=50 --flag=3 --ssl=none --aug_level=1
    python -m hmtl_tf.evaluate --run=runs/paper/sl_aug1 --dataset=aflw2000
  sl_aug1_rot (SL, Augmentation 1, Pre train weights ETH-XGaze SSL 2×2 rotation):
    python -m hmtl_tf.train --run=runs/paper/sl_aug1_rot --scale=paper --train=300w_lp --val=aflw2000 --extra_test=aflw2000_full --head=hopenet --bin_size=3 --alpha=2 --dropout=0.5 --epochs=110 --lr=0.001 --schedule=step --lr_drops=20,100 --ssl_weight=50 --flag=3 --ssl=none --aug_level=1 --warmup_epochs=5 --init=runs/paper/pretrain/eth_rotation2x2.weights.h5
    python -m hmtl_tf.evaluate --run=runs/paper/sl_aug1_rot --dataset=aflw2000
  sl_aug1_imagenet (SL, Augmentation 1, Pre train weights ImageNet):
    python -m hmtl_tf.train --run=runs/paper/sl_aug1_imagenet --scale=paper --train=300w_lp --val=aflw2000 --extra_test=aflw2000_full --head=hopenet --bin_size=3 --alpha=2 --dropout=0.5 --epochs=110 --lr=0.001 --schedule=step --lr_drops=20,100 --ssl_weight=50 --flag=3 --ssl=none --aug_level=1 --warmup_epochs=5 --init=imagenet
    python -m hmtl_tf.evaluate --run=runs/paper/sl_aug1_imagenet --dataset=aflw2000
  sl_aug2_full (SL*, Augmentation 2, Pre train weights -):
    python -m hmtl_tf.train --run=runs/paper/sl_aug2 --scale=paper --train=300w_lp --val=aflw2000 --extra_test=aflw2000_full --head=hopenet --bin_size=3 --alpha=2 --dropout=0.5 --epochs=110 --lr=0.001 --schedule=step --lr_drops=20,100 --ssl_weight=50 --flag=3 --ssl=none --aug_level=2
    python -m hmtl_tf.evaluate --run=runs/paper/sl_aug2 --dataset=aflw2000_full
  sl_aug2 (SL, Augmentation 2, Pre train weights -):
    python -m hmtl_tf.train --run=runs/paper/sl_aug2 --scale=paper --train=300w_lp --val=aflw2000 --extra_test=aflw2000_full --head=hopenet --bin_size=3 --alpha=2 --dropout=0.5 --epochs=110 --lr=0.001 --schedule=step --lr_drops=20,100 --ssl_weight=50 --flag=3 --ssl=none --aug_level=2
    python -m hmtl_tf.evaluate --run=runs/paper/sl_aug2 --dataset=aflw2000
  sl_aug2_rot (SL, Augmentation 2, Pre train weights ETH-XGaze SSL 2×2 rotation):
    python -m hmtl_tf.train --run=runs/paper/sl_aug2_rot --scale=paper --train=300w_lp --val=aflw2000 --extra_test=aflw2000_full --head=hopenet --bin_size=3 --alpha=2 --dropout=0.5 --epochs=110 --lr=0.001 --schedule=step --lr_drops=20,100 --ssl_weight=50 --flag=3 --ssl=none --aug_level=2 --warmup_epochs=5 --init=runs/paper/pretrain/eth_rotation2x2.weights.h5
    python -m hmtl_tf.evaluate --run=runs/paper/sl_aug2_rot --dataset=aflw2000
  hmtl_p2_aug1 (HMTL 2×2 puzzling, Augmentation 1, Pre train weights -):
    python -m hmtl_tf.train --run=runs/paper/hmtl_p2_aug1 --scale=paper --train=300w_lp --val=aflw2000 --extra_test=aflw2000_full --head=hopenet --bin_size=3 --alpha=2 --dropout=0.5 --epochs=110 --lr=0.001 --schedule=step --lr_drops=20,100 --ssl_weight=50 --flag=3 --ssl=puzzle2x2 --aug_level=1
    python -m hmtl_tf.evaluate --run=runs/paper/hmtl_p2_aug1 --dataset=aflw2000
  hmtl_p3_aug1 (HMTL 3×3 puzzling, Augmentation 1, Pre train weights -):
    python -m hmtl_tf.train --run=runs/paper/hmtl_p3_aug1 --scale=paper --train=300w_lp --val=aflw2000 --extra_test=aflw2000_full --head=hopenet --bin_size=3 --alpha=2 --dropout=0.5 --epochs=110 --lr=0.001 --schedule=step --lr_drops=20,100 --ssl_weight=50 --flag=3 --ssl=puzzle3x3 --aug_level=1
    python -m hmtl_tf.evaluate --run=runs/paper/hmtl_p3_aug1 --dataset=aflw2000
  hmtl_p3_aug1_rot (HMTL 3×3 puzzling, Augmentation 1, Pre train weights ETH-XGaze SSL 2×2 rotation):
    python -m hmtl_tf.train --run=runs/paper/hmtl_p3_aug1_rot --scale=paper --train=300w_lp --val=aflw2000 --extra_test=aflw2000_full --head=hopenet --bin_size=3 --alpha=2 --dropout=0.5 --epochs=110 --lr=0.001 --schedule=step --lr_drops=20,100 --ssl_weight=50 --flag=3 --ssl=puzzle3x3 --aug_level=1 --warmup_epochs=5 --init=runs/paper/pretrain/eth_rotation2x2.weights.h5
    python -m hmtl_tf.evaluate --run=runs/paper/hmtl_p3_aug1_rot --dataset=aflw2000
  hmtl_p3_aug1_imagenet (HMTL 3×3 puzzling, Augmentation 1, Pre train weights ImageNet):
    python -m hmtl_tf.train --run=runs/paper/hmtl_p3_aug1_imagenet --scale=paper --train=300w_lp --val=aflw2000 --extra_test=aflw2000_full --head=hopenet --bin_size=3 --alpha=2 --dropout=0.5 --epochs=110 --lr=0.001 --schedule=step --lr_drops=20,100 --ssl_weight=50 --flag=3 --ssl=puzzle3x3 --aug_level=1 --warmup_epochs=5 --init=imagenet
    python -m hmtl_tf.evaluate --run=runs/paper/hmtl_p3_aug1_imagenet --dataset=aflw2000
  hmtl_p3_aug2_full (HMTL 3×3 puzzling*, Augmentation 2, Pre train weights -):
    python -m hmtl_tf.train --run=runs/paper/hmtl_p3_aug2 --scale=paper --train=300w_lp --val=aflw2000 --extra_test=aflw2000_full --head=hopenet --bin_size=3 --alpha=2 --dropout=0.5 --epochs=110 --lr=0.001 --schedule=step --lr_drops=20,100 --ssl_weight=50 --flag=3 --ssl=puzzle3x3 --aug_level=2
    python -m hmtl_tf.evaluate --run=runs/paper/hmtl_p3_aug2 --dataset=aflw2000_full
  hmtl_p3_aug2 (HMTL 3×3 puzzling, Augmentation 2, Pre train weights -):
    python -m hmtl_tf.train --run=runs/paper/hmtl_p3_aug2 --scale=paper --train=300w_lp --val=aflw2000 --extra_test=aflw2000_full --head=hopenet --bin_size=3 --alpha=2 --dropout=0.5 --epochs=110 --lr=0.001 --schedule=step --lr_drops=20,100 --ssl_weight=50 --flag=3 --ssl=puzzle3x3 --aug_level=2
    python -m hmtl_tf.evaluate --run=runs/paper/hmtl_p3_aug2 --dataset=aflw2000
  hmtl_p3_aug2_bin1 (HMTL 3×3 puzzling+, Augmentation 2, Pre train weights -):
    python -m hmtl_tf.train --run=runs/paper/hmtl_p3_aug2_bin1 --scale=paper --train=300w_lp --val=aflw2000 --extra_test=aflw2000_full --head=hopenet --bin_size=1 --alpha=2 --dropout=0.5 --epochs=110 --lr=0.001 --schedule=step --lr_drops=20,100 --ssl_weight=50 --flag=3 --ssl=puzzle3x3 --aug_level=2
    python -m hmtl_tf.evaluate --run=runs/paper/hmtl_p3_aug2_bin1 --dataset=aflw2000
  hmtl_p3_aug2_rot (HMTL 3×3 puzzling, Augmentation 2, Pre train weights ETH-XGaze SSL 2×2 rotation):
    python -m hmtl_tf.train --run=runs/paper/hmtl_p3_aug2_rot --scale=paper --train=300w_lp --val=aflw2000 --extra_test=aflw2000_full --head=hopenet --bin_size=3 --alpha=2 --dropout=0.5 --epochs=110 --lr=0.001 --schedule=step --lr_drops=20,100 --ssl_weight=50 --flag=3 --ssl=puzzle3x3 --aug_level=2 --warmup_epochs=5 --init=runs/paper/pretrain/eth_rotation2x2.weights.h5
    python -m hmtl_tf.evaluate --run=runs/paper/hmtl_p3_aug2_rot --dataset=aflw2000
  hmtl_r2_aug1 (HMTL 2×2 rotation, Augmentation 1, Pre train weights -):
    python -m hmtl_tf.train --run=runs/paper/hmtl_r2_aug1 --scale=paper --train=300w_lp --val=aflw2000 --extra_test=aflw2000_full --head=hopenet --bin_size=3 --alpha=2 --dropout=0.5 --epochs=110 --lr=0.001 --schedule=step --lr_drops=20,100 --ssl_weight=50 --flag=3 --ssl=rotation2x2 --aug_level=1
    python -m hmtl_tf.evaluate --run=runs/paper/hmtl_r2_aug1 --dataset=aflw2000
  hmtl_r2_aug1_puz2 (HMTL 2×2 rotation, Augmentation 1, Pre train weights ETH-XGaze SSL 2×2 puzzling):
    python -m hmtl_tf.train --run=runs/paper/hmtl_r2_aug1_puz2 --scale=paper --train=300w_lp --val=aflw2000 --extra_test=aflw2000_full --head=hopenet --bin_size=3 --alpha=2 --dropout=0.5 --epochs=110 --lr=0.001 --schedule=step --lr_drops=20,100 --ssl_weight=50 --flag=3 --ssl=rotation2x2 --aug_level=1 --warmup_epochs=5 --init=runs/paper/pretrain/eth_puzzle2x2.weights.h5
    python -m hmtl_tf.evaluate --run=runs/paper/hmtl_r2_aug1_puz2 --dataset=aflw2000
  hmtl_pr2_aug1 (HMTL 2×2 puzzling-rotation, Augmentation 1, Pre train weights -):
    python -m hmtl_tf.train --run=runs/paper/hmtl_pr2_aug1 --scale=paper --train=300w_lp --val=aflw2000 --extra_test=aflw2000_full --head=hopenet --bin_size=3 --alpha=2 --dropout=0.5 --epochs=110 --lr=0.001 --schedule=step --lr_drops=20,100 --ssl_weight=50 --flag=3 --ssl=puzzle_rotation2x2 --aug_level=1
    python -m hmtl_tf.evaluate --run=runs/paper/hmtl_pr2_aug1 --dataset=aflw2000
"""
from experiments.rows import FINE_TUNE_WARMUP, PRE_PUZ2, PRE_ROT2, W300_BASE, Paper, Row, cols

TABLE = 2
TITLE = "MAE on AFLW2000 (reduced 1,969; * = all 2,000), trained on 300W-LP"
COLUMNS = ("Augmentation", "Pre-train weights")
ANGLES = ("yaw", "pitch", "roll")
ROT = "ETH-XGaze SSL 2×2 rotation"
STAR_SUFFIX = "_full"  # a starred row's key: its twin's key + this suffix


def _lit(key, method, aug, yaw, pitch, roll, avg):
    return Row(key=key, method=method, paper=Paper(yaw, pitch, roll, avg),
               columns=cols(Augmentation=aug, Pre_train_weights="-"), note="literature (not re-run)")


def _ours(key, method, aug, pre, yaw, pitch, roll, avg, ssl="none", full=False, curve="", extra=None):
    ov = {**W300_BASE, "ssl.task": ssl, "data.aug_level": aug, **(extra or {})}
    if pre != "-":  # fine-tuning pre-trained weights (ImageNet / ETH-XGaze SSL): Sec. 4.3's warm-up
        ov["optim.warmup_epochs"] = FINE_TUNE_WARMUP
    init = {"ImageNet": {"model.init": "imagenet"}}.get(pre, {})
    # A starred row (Sec. 4.2, Fig. 6) is its twin's model evaluated on all 2,000 images: the twin's run (one
    # training; W300_BASE's --extra_test=aflw2000_full evaluates and monitors the full set in that run).
    run = key[: -len(STAR_SUFFIX)] if full else key
    return Row(key=key, method=method, paper=Paper(yaw, pitch, roll, avg), run=run, overrides={**ov, **init},
               evaluate="aflw2000_full" if full else "aflw2000",
               pretrain={ROT: PRE_ROT2, "ETH-XGaze SSL 2×2 puzzling": PRE_PUZ2}.get(pre),
               columns=cols(Augmentation=aug, Pre_train_weights=pre), curve=curve)


ROWS = [
    _lit("fan", "FAN (12 points) [45]", "Unknown", 18.273, 12.604, 8.998, 13.292),
    _lit("3ddfa", "3DDFA [23]", "Unknown", 5.4, 8.53, 8.250, 7.393),
    _lit("retinaface", "RetinaFace R-50 (5 points) [46]", "Unknown", 5.101, 9.642, 3.924, 6.222),
    _lit("hopenet", "HopeNet [6]", "≈2", 6.47, 6.559, 5.436, 6.155),
    _lit("hybrid_coarse_fine", "Hybrid Coarse-Fine [47]", "Unknown", 4.82, 6.227, 5.137, 5.395),
    _lit("hpe40", "HPE-40 [10]", "Unknown", 4.87, 6.18, 4.8, 5.28),
    _lit("fsa_caps_fusion", "FSA-Caps-Fusion [12]", "≈2", 4.5, 6.08, 4.64, 5.07),
    _lit("whenet", "WHENet [11]", "∩", 4.44, 5.75, 4.31, 4.83),
    _lit("trinet", "TriNet [48]", "Unknown", 4.198, 5.767, 4.042, 4.669),
    _lit("quatnet", "QuatNet [28]", "Unknown", 3.97, 5.61, 3.92, 4.5),
    _lit("img2pose", "Img2pose [49]", "Unknown", 3.426, 5.034, 3.278, 3.913),
    _ours("sl_aug1", "SL", 1, "-", 5.736, 5.907, 4.89, 5.511),
    _ours("sl_aug1_rot", "SL", 1, ROT, 5.86, 5.541, 4.113, 5.171),
    _ours("sl_aug1_imagenet", "SL", 1, "ImageNet", 5.973, 5.488, 4.191, 5.217),
    _ours("sl_aug2_full", "SL*", 2, "-", 5.278, 7.987, 6.638, 6.634, full=True, curve="sl"),
    _ours("sl_aug2", "SL", 2, "-", 6.221, 5.569, 3.984, 5.258, curve="sl"),
    _ours("sl_aug2_rot", "SL", 2, ROT, 5.355, 5.432, 4.175, 4.987),
    _ours("hmtl_p2_aug1", "HMTL 2×2 puzzling", 1, "-", 4.22, 6.065, 5.007, 5.094, ssl="puzzle2x2"),
    _ours("hmtl_p3_aug1", "HMTL 3×3 puzzling", 1, "-", 4.175, 5.8, 4.951, 4.975, ssl="puzzle3x3"),
    _ours("hmtl_p3_aug1_rot", "HMTL 3×3 puzzling", 1, ROT, 3.855, 6.065, 4.377, 4.766, ssl="puzzle3x3"),
    _ours("hmtl_p3_aug1_imagenet", "HMTL 3×3 puzzling", 1, "ImageNet", 4.235, 6.2, 4.231, 4.889, ssl="puzzle3x3"),
    _ours("hmtl_p3_aug2_full", "HMTL 3×3 puzzling*", 2, "-", 3.742, 7.796, 6.496, 6.011, ssl="puzzle3x3",
          full=True, curve="hmtl"),
    _ours("hmtl_p3_aug2", "HMTL 3×3 puzzling", 2, "-", 3.874, 5.929, 4.416, 4.74, ssl="puzzle3x3", curve="hmtl"),
    _ours("hmtl_p3_aug2_bin1", "HMTL 3×3 puzzling+", 2, "-", 3.967, 5.942, 4.191, 4.7, ssl="puzzle3x3",
          extra={"model.bin_size": 1}),
    _ours("hmtl_p3_aug2_rot", "HMTL 3×3 puzzling", 2, ROT, 3.682, 5.919, 4.316, 4.639, ssl="puzzle3x3"),
    _ours("hmtl_r2_aug1", "HMTL 2×2 rotation", 1, "-", 5.998, 5.604, 4.31, 5.304, ssl="rotation2x2"),
    _ours("hmtl_r2_aug1_puz2", "HMTL 2×2 rotation", 1, "ETH-XGaze SSL 2×2 puzzling", 5.77, 5.657, 4.104, 5.177,
          ssl="rotation2x2"),
    _ours("hmtl_pr2_aug1", "HMTL 2×2 puzzling-rotation", 1, "-", 5.554, 6.211, 5.312, 5.692,
          ssl="puzzle_rotation2x2"),
]
