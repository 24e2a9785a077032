"""Table 6 (Sec. 5.2, Fig. 9): SL, HMTL 2×2 puzzling and its w/o-SSHs ablation with 1-4 ETH-XGaze subjects.

Regression heads (Eq. 3), heavy augmentation (zoom, noise, cutout, hue, brightness, contrast), the Table 1
schedule, validation subjects 108/109/111. The three methods start from identical random weights: the first run
saves ``init/table6_init.weights.h5`` and the others load it (``--initial_weights``).

Commands (paper scale; ``python -m experiments.run --table=6 --print_commands`` prints them for any scale):
  sl_s1 (SL, Subjects 1):
    python -m hmtl_tf.train --run=runs/paper/t6_sl_s1 --scale=paper --train=eth_xgaze --val=eth_xgaze --head=regression --angles=yaw,pitch --dropout=0.4 --epochs=110 --lr=0.001 --schedule=step --lr_drops=30,40 --ssl_weight=1 --aug_level=0 --heavy_aug=true --flag=3 --ssl=none --subjects=subject0000 --initial_weights=runs/paper/init/table6_init.weights.h5
    python -m hmtl_tf.evaluate --run=runs/paper/t6_sl_s1 --dataset=eth_xgaze
  sl_s2 (SL, Subjects 2):
    python -m hmtl_tf.train --run=runs/paper/t6_sl_s2 --scale=paper --train=eth_xgaze --val=eth_xgaze --head=regression --angles=yaw,pitch --dropout=0.4 --epochs=110 --lr=0.001 --schedule=step --lr_drops=30,40 --ssl_weight=1 --aug_level=0 --heavy_aug=true --flag=3 --ssl=none --subjects=subject0000,subject0003 --initial_weights=runs/paper/init/table6_init.weights.h5
    python -m hmtl_tf.evaluate --run=runs/paper/t6_sl_s2 --dataset=eth_xgaze
  sl_s3 (SL, Subjects 3):
    python -m hmtl_tf.train --run=runs/paper/t6_sl_s3 --scale=paper --train=eth_xgaze --val=eth_xgaze --head=regression --angles=yaw,pitch --dropout=0.4 --epochs=110 --lr=0.001 --schedule=step --lr_drops=30,40 --ssl_weight=1 --aug_level=0 --heavy_aug=true --flag=3 --ssl=none --subjects=subject0000,subject0003,subject0004 --initial_weights=runs/paper/init/table6_init.weights.h5
    python -m hmtl_tf.evaluate --run=runs/paper/t6_sl_s3 --dataset=eth_xgaze
  sl_s4 (SL, Subjects 4):
    python -m hmtl_tf.train --run=runs/paper/t6_sl_s4 --scale=paper --train=eth_xgaze --val=eth_xgaze --head=regression --angles=yaw,pitch --dropout=0.4 --epochs=110 --lr=0.001 --schedule=step --lr_drops=30,40 --ssl_weight=1 --aug_level=0 --heavy_aug=true --flag=3 --ssl=none --subjects=subject0000,subject0003,subject0004,subject0005 --initial_weights=runs/paper/init/table6_init.weights.h5
    python -m hmtl_tf.evaluate --run=runs/paper/t6_sl_s4 --dataset=eth_xgaze
  hmtl_p2_s1 (HMTL 2×2 puzzling, Subjects 1):
    python -m hmtl_tf.train --run=runs/paper/t6_hmtl_p2_s1 --scale=paper --train=eth_xgaze --val=eth_xgaze --head=regression --angles=yaw,pitch --dropout=0.4 --epochs=110 --lr=0.001 --schedule=step --lr_drops=30,40 --ssl_weight=1 --aug_level=0 --heavy_aug=true --flag=3 --ssl=puzzle2x2 --subjects=subject0000 --initial_weights=runs/paper/init/table6_init.weights.h5
    python -m hmtl_tf.evaluate --run=runs/paper/t6_hmtl_p2_s1 --dataset=eth_xgaze
  hmtl_p2_s2 (HMTL 2×2 puzzling, Subjects 2):
    python -m hmtl_tf.train --run=runs/paper/t6_hmtl_p2_s2 --scale=paper --train=eth_xgaze --val=eth_xgaze --head=regression --angles=yaw,pitch --dropout=0.4 --epochs=110 --lr=0.001 --schedule=step --lr_drops=30,40 --ssl_weight=1 --aug_level=0 --heavy_aug=true --flag=3 --ssl=puzzle2x2 --subjects=subject0000,subject0003 --initial_weights=runs/paper/init/table6_init.weights.h5
    python -m hmtl_tf.evaluate --run=runs/paper/t6_hmtl_p2_s2 --dataset=eth_xgaze
  hmtl_p2_s3 (HMTL 2×2 puzzling, Subjects 3):
    python -m hmtl_tf.train --run=runs/paper/t6_hmtl_p2_s3 --scale=paper --train=eth_xgaze --val=eth_xgaze --head=regression --angles=yaw,pitch --dropout=0.4 --epochs=110 --lr=0.001 --schedule=step --lr_drops=30,40 --ssl_weight=1 --aug_level=0 --heavy_aug=true --flag=3 --ssl=puzzle2x2 --subjects=subject0000,subject0003,subject0004 --initial_weights=runs/paper/init/table6_init.weights.h5
    python -m hmtl_tf.evaluate --run=runs/paper/t6_hmtl_p2_s3 --dataset=eth_xgaze
  hmtl_p2_s4 (HMTL 2×2 puzzling, Subjects 4):
    python -m hmtl_tf.train --run=runs/paper/t6_hmtl_p2_s4 --scale=paper --train=eth_xgaze --val=eth_xgaze --head=regression --angles=yaw,pitch --dropout=0.4 --epochs=110 --lr=0.001 --schedule=step --lr_drops=30,40 --ssl_weight=1 --aug_level=0 --heavy_aug=true --flag=3 --ssl=puzzle2x2 --subjects=subject0000,subject0003,subject0004,subject0005 --initial_weights=runs/paper/init/table6_init.weights.h5
    python -m hmtl_tf.evaluate --run=runs/paper/t6_hmtl_p2_s4 --dataset=eth_xgaze
  p2_wo_sshs_s1 (HMTL 2×2 puzzling w/o SSHs, Subjects 1):
    python -m hmtl_tf.train --run=runs/paper/t6_p2_wo_sshs_s1 --scale=paper --train=eth_xgaze --val=eth_xgaze --head=regression --angles=yaw,pitch --dropout=0.4 --epochs=110 --lr=0.001 --schedule=step --lr_drops=30,40 --ssl_weight=1 --aug_level=0 --heavy_aug=true --flag=3 --ssl=puzzle2x2 --ssl_heads=false --subjects=subject0000 --initial_weights=runs/paper/init/table6_init.weights.h5
    python -m hmtl_tf.evaluate --run=runs/paper/t6_p2_wo_sshs_s1 --dataset=eth_xgaze
  p2_wo_sshs_s2 (HMTL 2×2 puzzling w/o SSHs, Subjects 2):
    python -m hmtl_tf.train --run=runs/paper/t6_p2_wo_sshs_s2 --scale=paper --train=eth_xgaze --val=eth_xgaze --head=regression --angles=yaw,pitch --dropout=0.4 --epochs=110 --lr=0.001 --schedule=step --lr_drops=30,40 --ssl_weight=1 --aug_level=0 --heavy_aug=true --flag=3 --ssl=puzzle2x2 --ssl_heads=false --subjects=subject0000,subject0003 --initial_weights=runs/paper/init/table6_init.weights.h5
    python -m hmtl_tf.evaluate --run=runs/paper/t6_p2_wo_sshs_s2 --dataset=eth_xgaze
  p2_wo_sshs_s3 (HMTL 2×2 puzzling w/o SSHs, Subjects 3):
    python -m hmtl_tf.train --run=runs/paper/t6_p2_wo_sshs_s3 --scale=paper --train=eth_xgaze --val=eth_xgaze --head=regression --angles=yaw,pitch --dropout=0.4 --epochs=110 --lr=0.001 --schedule=step --lr_drops=30,40 --ssl_weight=1 --aug_level=0 --heavy_aug=true --flag=3 --ssl=puzzle2x2 --ssl_heads=false --subjects=subject0000,subject0003,subject0004 --initial_weights=runs/paper/init/table6_init.weights.h5
    python -m hmtl_tf.evaluate --run=runs/paper/t6_p2_wo_sshs_s3 --dataset=eth_xgaze
  p2_wo_sshs_s4 (HMTL 2×2 puzzling w/o SSHs, Subjects 4):
    python -m hmtl_tf.train --run=runs/paper/t6_p2_wo_sshs_s4 --scale=paper --train=eth_xgaze --val=eth_xgaze --head=regression --angles=yaw,pitch --dropout=0.4 --epochs=110 --lr=0.001 --schedule=step --lr_drops=30,40 --ssl_weight=1 --aug_level=0 --heavy_aug=true --flag=3 --ssl=puzzle2x2 --ssl_heads=false --subjects=subject0000,subject0003,subject0004,subject0005 --initial_weights=runs/paper/init/table6_init.weights.h5
    python -m hmtl_tf.evaluate --run=runs/paper/t6_p2_wo_sshs_s4 --dataset=eth_xgaze
"""
from experiments.rows import ETH_BASE, Paper, Row, cols

TABLE = 6
TITLE = "MAE of yaw and pitch vs number of ETH-XGaze training subjects"
COLUMNS = ("Subjects",)
ANGLES = ("yaw", "pitch")
BASE = {**ETH_BASE, "data.aug_level": 0, "data.heavy_aug": True, "ssl.flag": 3}
INIT = "table6_init.weights.h5"
METHODS = {"sl": ("SL", {**BASE, "ssl.task": "none"}),
           "hmtl_p2": ("HMTL 2×2 puzzling", {**BASE, "ssl.task": "puzzle2x2"}),
           "p2_wo_sshs": ("HMTL 2×2 puzzling w/o SSHs", {**BASE, "ssl.task": "puzzle2x2", "ssl.heads": False})}
PAPER = {
    "sl": [(4.618, 6.048, 5.333), (4.69, 4.83, 4.76), (3.738, 4.130, 3.934), (3.264, 4.392, 3.828)],
    "hmtl_p2": [(3.739, 6.493, 5.116), (3.495, 5.235, 4.365), (3.023, 4.207, 3.615), (3.12, 4.086, 3.603)],
    "p2_wo_sshs": [(6.6, 8.332, 7.466), (4.746, 5.96, 5.353), (3.490, 4.916, 4.203), (3.705, 4.498, 4.101)],
}

ROWS = [
    Row(key=f"{m}_s{n}", method=METHODS[m][0], paper=Paper(y, p, None, a), run=f"t6_{m}_s{n}", overrides=METHODS[m][1],
        evaluate="eth_xgaze", subjects=n, init_file=INIT, columns=cols(Subjects=n), curve=m)
    for m in METHODS for n, (y, p, a) in enumerate(PAPER[m], start=1)
]
