"""Table 4 (Sec. 4.3): SSL pre-training (pretext tasks, Barlow Twins) vs HMTL on reduced AFLW2000.

Encoders pre-trained on ETH-XGaze (``hmtl_tf.pretrain``: 64 epochs, batch 64, LR 1e-3 cosine; BT projector
3 x 2048), then HopeNet (SL) or 3×3-puzzling HMTL trained on 300W-LP with augmentation level 2. LE = linear
evaluation (frozen backbone); FT = fine-tuning with a 5-epoch warm-up. The "-" rows are Table 2's level-2 runs.

Commands (paper scale; ``python -m experiments.run --table=4 --print_commands`` prints them for any scale):
    python -m hmtl_tf.pretrain --method=rotation2x2 --train=eth_xgaze --out=runs/paper/pretrain/eth_rotation2x2.weights.h5 --scale=paper --linear_probe
    python -m hmtl_tf.pretrain --method=puzzle2x2 --train=eth_xgaze --out=runs/paper/pretrain/eth_puzzle2x2.weights.h5 --scale=paper --linear_probe
    python -m hmtl_tf.pretrain --method=puzzle3x3 --train=eth_xgaze --out=runs/paper/pretrain/eth_puzzle3x3.weights.h5 --scale=paper --linear_probe
    python -m hmtl_tf.pretrain --method=barlow_twins --train=eth_xgaze --out=runs/paper/pretrain/eth_barlow_twins.weights.h5 --scale=paper --linear_probe
    python -m hmtl_tf.pretrain --method=barlow_twins_puzzle --train=eth_xgaze --out=runs/paper/pretrain/eth_barlow_twins_puzzle.weights.h5 --scale=paper --linear_probe
  sl_aug2 (HopeNet [6], Encoder pre training -):
    python -m hmtl_tf.train --run=runs/paper/sl_aug2 --scale=paper --train=300w_lp --val=aflw2000 --extra_test=aflw2000_full --head=hopenet --bin_size=3 --alpha=2 --dropout=0.5 --epochs=110 --lr=0.001 --schedule=step --lr_drops=20,100 --ssl_weight=50 --flag=3 --ssl=none --aug_level=2
    python -m hmtl_tf.evaluate --run=runs/paper/sl_aug2 --dataset=aflw2000
  le_rot2 (HopeNet [6] (LE), Encoder pre training 2×2 Rotation):
    python -m hmtl_tf.train --run=runs/paper/t4_le_rot2 --scale=paper --train=300w_lp --val=aflw2000 --extra_test=aflw2000_full --head=hopenet --bin_size=3 --alpha=2 --dropout=0.5 --epochs=110 --lr=0.001 --schedule=step --lr_drops=20,100 --ssl_weight=50 --flag=3 --ssl=none --aug_level=2 --freeze_backbone=true --warmup_epochs=5 --init=runs/paper/pretrain/eth_rotation2x2.weights.h5
    python -m hmtl_tf.evaluate --run=runs/paper/t4_le_rot2 --dataset=aflw2000
  le_puz2 (HopeNet [6] (LE), Encoder pre training 2×2 Puzzling):
    python -m hmtl_tf.train --run=runs/paper/t4_le_puz2 --scale=paper --train=300w_lp --val=aflw2000 --extra_test=aflw2000_full --head=hopenet --bin_size=3 --alpha=2 --dropout=0.5 --epochs=110 --lr=0.001 --schedule=step --lr_drops=20,100 --ssl_weight=50 --flag=3 --ssl=none --aug_level=2 --freeze_backbone=true --warmup_epochs=5 --init=runs/paper/pretrain/eth_puzzle2x2.weights.h5
    python -m hmtl_tf.evaluate --run=runs/paper/t4_le_puz2 --dataset=aflw2000
  le_puz3 (HopeNet [6] (LE), Encoder pre training 3×3 Puzzling):
    python -m hmtl_tf.train --run=runs/paper/t4_le_puz3 --scale=paper --train=300w_lp --val=aflw2000 --extra_test=aflw2000_full --head=hopenet --bin_size=3 --alpha=2 --dropout=0.5 --epochs=110 --lr=0.001 --schedule=step --lr_drops=20,100 --ssl_weight=50 --flag=3 --ssl=none --aug_level=2 --freeze_backbone=true --warmup_epochs=5 --init=runs/paper/pretrain/eth_puzzle3x3.weights.h5
    python -m hmtl_tf.evaluate --run=runs/paper/t4_le_puz3 --dataset=aflw2000
  le_bt (HopeNet [6] (LE), Encoder pre training BT [21]):
    python -m hmtl_tf.train --run=runs/paper/t4_le_bt --scale=paper --train=300w_lp --val=aflw2000 --extra_test=aflw2000_full --head=hopenet --bin_size=3 --alpha=2 --dropout=0.5 --epochs=110 --lr=0.001 --schedule=step --lr_drops=20,100 --ssl_weight=50 --flag=3 --ssl=none --aug_level=2 --freeze_backbone=true --warmup_epochs=5 --init=runs/paper/pretrain/eth_barlow_twins.weights.h5
    python -m hmtl_tf.evaluate --run=runs/paper/t4_le_bt --dataset=aflw2000
  le_bt_star (HopeNet [6] (LE), Encoder pre training BT* [21]):
    python -m hmtl_tf.train --run=runs/paper/t4_le_bt_star --scale=paper --train=300w_lp --val=aflw2000 --extra_test=aflw2000_full --head=hopenet --bin_size=3 --alpha=2 --dropout=0.5 --epochs=110 --lr=0.001 --schedule=step --lr_drops=20,100 --ssl_weight=50 --flag=3 --ssl=none --aug_level=2 --freeze_backbone=true --warmup_epochs=5 --init=runs/paper/pretrain/eth_barlow_twins_puzzle.weights.h5
    python -m hmtl_tf.evaluate --run=runs/paper/t4_le_bt_star --dataset=aflw2000
  ft_bt (HopeNet [6] (FT), Encoder pre training BT [21]):
    python -m hmtl_tf.train --run=runs/paper/t4_ft_bt --scale=paper --train=300w_lp --val=aflw2000 --extra_test=aflw2000_full --head=hopenet --bin_size=3 --alpha=2 --dropout=0.5 --epochs=110 --lr=0.001 --schedule=step --lr_drops=20,100 --ssl_weight=50 --flag=3 --ssl=none --aug_level=2 --warmup_epochs=5 --init=runs/paper/pretrain/eth_barlow_twins.weights.h5
    python -m hmtl_tf.evaluate --run=runs/paper/t4_ft_bt --dataset=aflw2000
  ft_bt_star (HopeNet [6] (FT), Encoder pre training BT* [21]):
    python -m hmtl_tf.train --run=runs/paper/t4_ft_bt_star --scale=paper --train=300w_lp --val=aflw2000 --extra_test=aflw2000_full --head=hopenet --bin_size=3 --alpha=2 --dropout=0.5 --epochs=110 --lr=0.001 --schedule=step --lr_drops=20,100 --ssl_weight=50 --flag=3 --ssl=none --aug_level=2 --warmup_epochs=5 --init=runs/paper/pretrain/eth_barlow_twins_puzzle.weights.h5
    python -m hmtl_tf.evaluate --run=runs/paper/t4_ft_bt_star --dataset=aflw2000
  hmtl_p3_aug2 (HMTL, Encoder pre training -):
    python -m hmtl_tf.train --run=runs/paper/hmtl_p3_aug2 --scale=paper --train=300w_lp --val=aflw2000 --extra_test=aflw2000_full --head=hopenet --bin_size=3 --alpha=2 --dropout=0.5 --epochs=110 --lr=0.001 --schedule=step --lr_drops=20,100 --ssl_weight=50 --flag=3 --ssl=puzzle3x3 --aug_level=2
    python -m hmtl_tf.evaluate --run=runs/paper/hmtl_p3_aug2 --dataset=aflw2000
  hmtl_ft_bt (HMTL (FT), Encoder pre training BT [21]):
    python -m hmtl_tf.train --run=runs/paper/t4_hmtl_ft_bt --scale=paper --train=300w_lp --val=aflw2000 --extra_test=aflw2000_full --head=hopenet --bin_size=3 --alpha=2 --dropout=0.5 --epochs=110 --lr=0.001 --schedule=step --lr_drops=20,100 --ssl_weight=50 --flag=3 --ssl=puzzle3x3 --aug_level=2 --warmup_epochs=5 --init=runs/paper/pretrain/eth_barlow_twins.weights.h5
    python -m hmtl_tf.evaluate --run=runs/paper/t4_hmtl_ft_bt --dataset=aflw2000
  hmtl_ft_bt_star (HMTL (FT), Encoder pre training BT* [21]):
    python -m hmtl_tf.train --run=runs/paper/t4_hmtl_ft_bt_star --scale=paper --train=300w_lp --val=aflw2000 --extra_test=aflw2000_full --head=hopenet --bin_size=3 --alpha=2 --dropout=0.5 --epochs=110 --lr=0.001 --schedule=step --lr_drops=20,100 --ssl_weight=50 --flag=3 --ssl=puzzle3x3 --aug_level=2 --warmup_epochs=5 --init=runs/paper/pretrain/eth_barlow_twins_puzzle.weights.h5
    python -m hmtl_tf.evaluate --run=runs/paper/t4_hmtl_ft_bt_star --dataset=aflw2000
"""
from experiments.rows import (FINE_TUNE_WARMUP, PRE_BT, PRE_BT_STAR, PRE_PUZ2, PRE_PUZ3, PRE_ROT2, W300_BASE, Paper,
                             Row, cols)

TABLE = 4
TITLE = "SSL pre-training vs HMTL on reduced AFLW2000 (augmentation level 2)"
COLUMNS = ("Encoder pre-training",)
ANGLES = ("yaw", "pitch", "roll")
SL = {**W300_BASE, "ssl.task": "none", "data.aug_level": 2}
HMTL = {**W300_BASE, "ssl.task": "puzzle3x3", "data.aug_level": 2}
# the caption: "same hyperparameter settings"
LE = {**SL, "model.freeze_backbone": True, "optim.warmup_epochs": FINE_TUNE_WARMUP}
FT = {**SL, "optim.warmup_epochs": FINE_TUNE_WARMUP}
HMTL_FT = {**HMTL, "optim.warmup_epochs": FINE_TUNE_WARMUP}


def _row(key, method, pre_label, pre, base, yaw, pitch, roll, avg, run=None, note=""):
    return Row(key=key, method=method, paper=Paper(yaw, pitch, roll, avg), run=run or f"t4_{key}", overrides=base,
               pretrain=pre, columns=cols(Encoder_pre_training=pre_label), note=note)


ROWS = [
    _row("sl_aug2", "HopeNet [6]", "-", None, SL, 6.221, 5.569, 3.984, 5.258, run="sl_aug2"),
    _row("le_rot2", "HopeNet [6] (LE)", "2×2 Rotation", PRE_ROT2, LE, 17.198, 11.694, 11.775, 13.556),
    _row("le_puz2", "HopeNet [6] (LE)", "2×2 Puzzling", PRE_PUZ2, LE, 17.408, 11.453, 11.465, 13.442),
    _row("le_puz3", "HopeNet [6] (LE)", "3×3 Puzzling", PRE_PUZ3, LE, 14.509, 11.132, 10.657, 12.099),
    _row("le_bt", "HopeNet [6] (LE)", "BT [21]", PRE_BT, LE, 9.1, 11.753, 10.820, 10.558),
    _row("le_bt_star", "HopeNet [6] (LE)", "BT* [21]", PRE_BT_STAR, LE, 10.136, 9.477, 9.873, 9.799,
         note="as printed; the mean of the printed angles is 9.829"),
    _row("ft_bt", "HopeNet [6] (FT)", "BT [21]", PRE_BT, FT, 4.790, 5.34, 3.677, 4.603),
    _row("ft_bt_star", "HopeNet [6] (FT)", "BT* [21]", PRE_BT_STAR, FT, 4.56, 5.289, 3.596, 4.481),
    _row("hmtl_p3_aug2", "HMTL", "-", None, HMTL, 3.874, 5.929, 4.416, 4.74, run="hmtl_p3_aug2"),
    _row("hmtl_ft_bt", "HMTL (FT)", "BT [21]", PRE_BT, HMTL_FT, 3.406, 5.718, 4.103, 4.409),
    _row("hmtl_ft_bt_star", "HMTL (FT)", "BT* [21]", PRE_BT_STAR, HMTL_FT, 3.351, 5.633, 3.829, 4.271),
]
