"""Table 1 (Sec. 4.1, Fig. 4): the HMTL branching point (flags 1-4) per SSL task, ETH-XGaze, regression heads.

One training subject, validation subjects 108/109/111, 110 epochs, LR 1e-3 x0.1 at epochs 30 and 40, random zoom
and hue only (``--aug_set=table1``: no contrast, no flip), dropout 0.4 (SHs) / 0.2 (SSHs), SSL losses x1 (Eq. 1). Reported: MAE on the validation subjects.

Commands (paper scale; ``python -m experiments.run --table=1 --print_commands`` prints them for any scale):
  puzzle_rotation2x2_f1 (HMTL puzzling-rotation 2×2, Flag 1):
    python -m hmtl_tf.train --run=runs/paper/t1_puzzle_rotation2x2_f1 --scale=paper --train=eth_xgaze --val=eth_xgaze --head=regression --angles=yaw,pitch --dropout=0.4 --epochs=110 --lr=0.001 --schedule=step --lr_drops=30,40 --ssl_weight=1 --aug_set=table1 --ssl=puzzle_rotation2x2 --flag=1 --subjects=subject0000
    python -m hmtl_tf.evaluate --run=runs/paper/t1_puzzle_rotation2x2_f1 --dataset=eth_xgaze
  puzzle_rotation2x2_f2 (HMTL puzzling-rotation 2×2, Flag 2):
    python -m hmtl_tf.train --run=runs/paper/t1_puzzle_rotation2x2_f2 --scale=paper --train=eth_xgaze --val=eth_xgaze --head=regression --angles=yaw,pitch --dropout=0.4 --epochs=110 --lr=0.001 --schedule=step --lr_drops=30,40 --ssl_weight=1 --aug_set=table1 --ssl=puzzle_rotation2x2 --flag=2 --subjects=subject0000
    python -m hmtl_tf.evaluate --run=runs/paper/t1_puzzle_rotation2x2_f2 --dataset=eth_xgaze
  puzzle_rotation2x2_f3 (HMTL puzzling-rotation 2×2, Flag 3):
    python -m hmtl_tf.train --run=runs/paper/t1_puzzle_rotation2x2_f3 --scale=paper --train=eth_xgaze --val=eth_xgaze --head=regression --angles=yaw,pitch --dropout=0.4 --epochs=110 --lr=0.001 --schedule=step --lr_drops=30,40 --ssl_weight=1 --aug_set=table1 --ssl=puzzle_rotation2x2 --flag=3 --subjects=subject0000
    python -m hmtl_tf.evaluate --run=runs/paper/t1_puzzle_rotation2x2_f3 --dataset=eth_xgaze
  puzzle_rotation2x2_f4 (HMTL puzzling-rotation 2×2, Flag 4):
    python -m hmtl_tf.train --run=runs/paper/t1_puzzle_rotation2x2_f4 --scale=paper --train=eth_xgaze --val=eth_xgaze --head=regression --angles=yaw,pitch --dropout=0.4 --epochs=110 --lr=0.001 --schedule=step --lr_drops=30,40 --ssl_weight=1 --aug_set=table1 --ssl=puzzle_rotation2x2 --flag=4 --subjects=subject0000
    python -m hmtl_tf.evaluate --run=runs/paper/t1_puzzle_rotation2x2_f4 --dataset=eth_xgaze
  rotation2x2_f1 (HMTL rotation 2×2, Flag 1):
    python -m hmtl_tf.train --run=runs/paper/t1_rotation2x2_f1 --scale=paper --train=eth_xgaze --val=eth_xgaze --head=regression --angles=yaw,pitch --dropout=0.4 --epochs=110 --lr=0.001 --schedule=step --lr_drops=30,40 --ssl_weight=1 --aug_set=table1 --ssl=rotation2x2 --flag=1 --subjects=subject0000
    python -m hmtl_tf.evaluate --run=runs/paper/t1_rotation2x2_f1 --dataset=eth_xgaze
  rotation2x2_f2 (HMTL rotation 2×2, Flag 2):
    python -m hmtl_tf.train --run=runs/paper/t1_rotation2x2_f2 --scale=paper --train=eth_xgaze --val=eth_xgaze --head=regression --angles=yaw,pitch --dropout=0.4 --epochs=110 --lr=0.001 --schedule=step --lr_drops=30,40 --ssl_weight=1 --aug_set=table1 --ssl=rotation2x2 --flag=2 --subjects=subject0000
    python -m hmtl_tf.evaluate --run=runs/paper/t1_rotation2x2_f2 --dataset=eth_xgaze
  rotation2x2_f3 (HMTL rotation 2×2, Flag 3):
    python -m hmtl_tf.train --run=runs/paper/t1_rotation2x2_f3 --scale=paper --train=eth_xgaze --val=eth_xgaze --head=regression --angles=yaw,pitch --dropout=0.4 --epochs=110 --lr=0.001 --schedule=step --lr_drops=30,40 --ssl_weight=1 --aug_set=table1 --ssl=rotation2x2 --flag=3 --subjects=subject0000
    python -m hmtl_tf.evaluate --run=runs/paper/t1_rotation2x2_f3 --dataset=eth_xgaze
  rotation2x2_f4 (HMTL rotation 2×2, Flag 4):
    python -m hmtl_tf.train --run=runs/paper/t1_rotation2x2_f4 --scale=paper --train=eth_xgaze --val=eth_xgaze --head=regression --angles=yaw,pitch --dropout=0.4 --epochs=110 --lr=0.001 --schedule=step --lr_drops=30,40 --ssl_weight=1 --aug_set=table1 --ssl=rotation2x2 --flag=4 --subjects=subject0000
    python -m hmtl_tf.evaluate --run=runs/paper/t1_rotation2x2_f4 --dataset=eth_xgaze
  puzzle2x2_f1 (HMTL puzzling 2×2, Flag 1):
    python -m hmtl_tf.train --run=runs/paper/t1_puzzle2x2_f1 --scale=paper --train=eth_xgaze --val=eth_xgaze --head=regression --angles=yaw,pitch --dropout=0.4 --epochs=110 --lr=0.001 --schedule=step --lr_drops=30,40 --ssl_weight=1 --aug_set=table1 --ssl=puzzle2x2 --flag=1 --subjects=subject0000
    python -m hmtl_tf.evaluate --run=runs/paper/t1_puzzle2x2_f1 --dataset=eth_xgaze
  puzzle2x2_f2 (HMTL puzzling 2×2, Flag 2):
    python -m hmtl_tf.train --run=runs/paper/t1_puzzle2x2_f2 --scale=paper --train=eth_xgaze --val=eth_xgaze --head=regression --angles=yaw,pitch --dropout=0.4 --epochs=110 --lr=0.001 --schedule=step --lr_drops=30,40 --ssl_weight=1 --aug_set=table1 --ssl=puzzle2x2 --flag=2 --subjects=subject0000
    python -m hmtl_tf.evaluate --run=runs/paper/t1_puzzle2x2_f2 --dataset=eth_xgaze
  puzzle2x2_f3 (HMTL puzzling 2×2, Flag 3):
    python -m hmtl_tf.train --run=runs/paper/t1_puzzle2x2_f3 --scale=paper --train=eth_xgaze --val=eth_xgaze --head=regression --angles=yaw,pitch --dropout=0.4 --epochs=110 --lr=0.001 --schedule=step --lr_drops=30,40 --ssl_weight=1 --aug_set=table1 --ssl=puzzle2x2 --flag=3 --subjects=subject0000
    python -m hmtl_tf.evaluate --run=runs/paper/t1_puzzle2x2_f3 --dataset=eth_xgaze
  puzzle2x2_f4 (HMTL puzzling 2×2, Flag 4):
    python -m hmtl_tf.train --run=runs/paper/t1_puzzle2x2_f4 --scale=paper --train=eth_xgaze --val=eth_xgaze --head=regression --angles=yaw,pitch --dropout=0.4 --epochs=110 --lr=0.001 --schedule=step --lr_drops=30,40 --ssl_weight=1 --aug_set=table1 --ssl=puzzle2x2 --flag=4 --subjects=subject0000
    python -m hmtl_tf.evaluate --run=runs/paper/t1_puzzle2x2_f4 --dataset=eth_xgaze
  sl (SL, Flag -):
    python -m hmtl_tf.train --run=runs/paper/t1_sl --scale=paper --train=eth_xgaze --val=eth_xgaze --head=regression --angles=yaw,pitch --dropout=0.4 --epochs=110 --lr=0.001 --schedule=step --lr_drops=30,40 --ssl_weight=1 --aug_set=table1 --ssl=none --subjects=subject0000
    python -m hmtl_tf.evaluate --run=runs/paper/t1_sl --dataset=eth_xgaze
"""
from experiments.rows import ETH_BASE, Paper, Row, cols

TABLE = 1
TITLE = "MAE of yaw and pitch per SSL task and flag on ETH-XGaze (1 training subject)"
COLUMNS = ("Flag",)
ANGLES = ("yaw", "pitch")
BASE = {**ETH_BASE, "data.aug_set": "table1"}  # "random zooming, random hue" (Sec. 4.1): no contrast, no flip


def _hmtl(task: str, label: str, flag: int, yaw: float, pitch: float, avg: float) -> Row:
    return Row(key=f"{task}_f{flag}", method=f"HMTL {label}", paper=Paper(yaw, pitch, None, avg),
               run=f"t1_{task}_f{flag}", overrides={**BASE, "ssl.task": task, "ssl.flag": flag}, evaluate="eth_xgaze",
               subjects=1, columns=cols(Flag=flag))


ROWS = [
    _hmtl("puzzle_rotation2x2", "puzzling-rotation 2×2", 1, 5.075, 8.725, 6.9),
    _hmtl("puzzle_rotation2x2", "puzzling-rotation 2×2", 2, 5.243, 7.921, 6.582),
    _hmtl("puzzle_rotation2x2", "puzzling-rotation 2×2", 3, 5.243, 7.921, 6.582),
    _hmtl("puzzle_rotation2x2", "puzzling-rotation 2×2", 4, 5.243, 7.921, 6.582),
    _hmtl("rotation2x2", "rotation 2×2", 1, 4.985, 10.072, 7.528),
    _hmtl("rotation2x2", "rotation 2×2", 2, 4.373, 9.623, 6.998),
    _hmtl("rotation2x2", "rotation 2×2", 3, 4.757, 7.337, 6.047),
    _hmtl("rotation2x2", "rotation 2×2", 4, 4.701, 7.712, 6.207),
    _hmtl("puzzle2x2", "puzzling 2×2", 1, 6.478, 9.575, 8.026),
    _hmtl("puzzle2x2", "puzzling 2×2", 2, 5.667, 7.13, 6.398),
    _hmtl("puzzle2x2", "puzzling 2×2", 3, 4.272, 6.852, 5.563),
    _hmtl("puzzle2x2", "puzzling 2×2", 4, 4.347, 7.738, 6.043),
    Row(key="sl", method="SL", paper=Paper(5.338, 6.852, None, 6.095), run="t1_sl",
        overrides={**BASE, "ssl.task": "none"}, evaluate="eth_xgaze", subjects=1, columns=cols(Flag="-")),
]
