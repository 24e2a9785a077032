"""Table 5 (Sec. 5.1, Fig. 8): HMTL without its SSL heads (HopeNet on puzzled images) on reduced AFLW2000.

SL and HMTL 3×3 are Table 2's level-2 runs; "w/o SSHs" trains HopeNet on 3×3-puzzled inputs with no SSL head.

Commands (paper scale; ``python -m experiments.run --table=5 --print_commands`` prints them for any scale):
  sl_aug2 (SL):
    python -m hmtl_tf.train --run=runs/paper/sl_aug2 --scale=paper --train=300w_lp --val=aflw2000 --extra_test=aflw2000_full --head=hopenet --bin_size=3 --alpha=2 --dropout=0.5 --epochs=110 --lr=0.001 --schedule=step --lr_drops=20,100 --ssl_weight=50 --flag=3 --ssl=none --aug_level=2
    python -m hmtl_tf.evaluate --run=runs/paper/sl_aug2 --dataset=aflw2000
  p3_wo_sshs (HMTL 3×3 puzzling w/o SSHs):
    python -m hmtl_tf.train --run=runs/paper/t5_p3_wo_sshs --scale=paper --train=300w_lp --val=aflw2000 --extra_test=aflw2000_full --head=hopenet --bin_size=3 --alpha=2 --dropout=0.5 --epochs=110 --lr=0.001 --schedule=step --lr_drops=20,100 --ssl_weight=50 --flag=3 --ssl=puzzle3x3 --aug_level=2 --ssl_heads=false
    python -m hmtl_tf.evaluate --run=runs/paper/t5_p3_wo_sshs --dataset=aflw2000
  hmtl_p3_aug2 (HMTL 3×3 puzzling):
    python -m hmtl_tf.train --run=runs/paper/hmtl_p3_aug2 --scale=paper --train=300w_lp --val=aflw2000 --extra_test=aflw2000_full --head=hopenet --bin_size=3 --alpha=2 --dropout=0.5 --epochs=110 --lr=0.001 --schedule=step --lr_drops=20,100 --ssl_weight=50 --flag=3 --ssl=puzzle3x3 --aug_level=2
    python -m hmtl_tf.evaluate --run=runs/paper/hmtl_p3_aug2 --dataset=aflw2000
"""
from experiments.rows import W300_BASE, Paper, Row

TABLE = 5
TITLE = "Ablation: puzzled inputs without SSL heads, reduced AFLW2000"
COLUMNS = ()
ANGLES = ("yaw", "pitch", "roll")

ROWS = [
    Row(key="sl_aug2", method="SL", paper=Paper(6.221, 5.569, 3.984, 5.258), run="sl_aug2",
        overrides={**W300_BASE, "ssl.task": "none", "data.aug_level": 2}, curve="sl"),
    Row(key="p3_wo_sshs", method="HMTL 3×3 puzzling w/o SSHs", paper=Paper(4.589, 6.223, 4.465, 5.092),
        run="t5_p3_wo_sshs", overrides={**W300_BASE, "ssl.task": "puzzle3x3", "data.aug_level": 2, "ssl.heads": False},
        curve="wo_sshs"),
    Row(key="hmtl_p3_aug2", method="HMTL 3×3 puzzling", paper=Paper(3.874, 5.929, 4.416, 4.74), run="hmtl_p3_aug2",
        overrides={**W300_BASE, "ssl.task": "puzzle3x3", "data.aug_level": 2}, curve="hmtl"),
]
