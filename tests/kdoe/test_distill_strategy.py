"""``hmtl_tf.distill`` shares ``runsetup.setup_devices`` (issue 12 item 9): a KD-OE student distilled under a 2-replica
CPU MirroredStrategy trains like on one device.

One subprocess (logical devices must be configured before TF initialises) splits the CPU into 2 logical devices and
runs ``distill.run`` twice on the same tiny data, teacher and seed: ``--strategy=one_device`` and
``--strategy=mirrored`` (2 replicas). A random-weight ResNet18 bin-1 teacher stands in for a stage-1 run (only its
distributions matter), K=0 (one crop per view), a ResNet18 student at 64 px, batch 4 (2 per replica), 2 steps, no
validation set, synchronized batch norm (``model.sync_bn`` of the teacher run's config: per-replica batch statistics
would differ from the global batch's by design), no dropout (the KD-OE heads have none). ``finish`` (the inference
export, tested elsewhere) is skipped. The shards hold 8 ``AFW`` and 8 ``AFW_Flip`` records: the default
``--w300lp_subsets`` (no ``_Flip``) leaves 8, so steps/epoch = 2 also checks distill's filtered count.

Tolerance: the logged epoch loss, its CE and KL parts and the MAE agree to rtol 1e-4 (float32; measured <= 6e-7: the
replicas' partial sums are added in another order). Without the per-replica loss scaling of ``KDOEModel`` the logged
mirrored loss is twice the one-device loss (measured), so the test also guards that.
"""
import json
import os
import subprocess
import sys

import numpy as np

from tests.helpers import REPO


SCRIPT = r'''
import csv, json, os, sys, types
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from hmtl_tf import distill
from hmtl_tf.config import make_config
from hmtl_tf.data import crops, records
from hmtl_tf.kdoe.model import build_kdoe_inference_model, build_student_network

root = sys.argv[1]
data = os.path.join(root, "shards")
rng = np.random.default_rng(0)
os.makedirs(os.path.join(data, "300w_lp"))
with tf.io.TFRecordWriter(os.path.join(data, "300w_lp", records.shard_name("train", 0, 1))) as w:
    for i in range(16):
        img = rng.integers(0, 256, (96, 96, 3)).astype(np.uint8)
        pts = rng.uniform(25, 70, (68, 2))
        spec = crops.make_crop_spec("hopenet", "300w_lp", "train", pt2d=pts, image_size=(96, 96))
        ob = spec.outer_box()
        x0, y0, x1, y1 = max(0, ob[0]), max(0, ob[1]), min(96, ob[2]), min(96, ob[3])
        subset = "AFW" if i % 2 == 0 else "AFW_Flip"
        w.write(records.encode_example(
            image_jpeg=tf.io.encode_jpeg(img[y0:y1, x0:x1], quality=95).numpy(), origin=(x0, y0),
            source_size=(96, 96), ypr=rng.uniform(-60, 60, 3), has_roll=True, crop=spec,
            source_id=f"{subset}/AFW_{i}_0", dataset="300w_lp", split="train", subject=subset, landmarks=pts))

teacher = os.path.join(root, "teacher")
os.makedirs(teacher)
tcfg = make_config("smoke", {"model.family": "kdoe", "model.backbone": "resnet18", "data.image_size": 64,
                             "data.data_root": data, "data.val": "", "model.sync_bn": True, "seed": 3})
keras.utils.set_random_seed(1)
build_kdoe_inference_model(tcfg, build_student_network(tcfg)).save(os.path.join(teacher, "inference.keras"))
with open(os.path.join(teacher, "config.json"), "w") as f:
    f.write(tcfg.to_json())

out = {}
distill.finish = lambda cfg, run_dir, network, val, state: out.setdefault("finished", []).append(run_dir)
for strategy in ("one_device", "mirrored"):
    run = os.path.join(root, strategy)
    fl = types.SimpleNamespace(teacher=teacher, run=run, student="resnet18", init="random", K=0, d=1,
                               teacher_mode="stored", epochs=1, lr=3e-4, batch_size=4, steps_per_epoch=0,
                               max_train_samples=-1, teacher_shards="", scale="smoke", flip=True, rotate=False,
                               overwrite=False, strategy=strategy, mixed_precision="off")
    distill.run(fl)
    with open(os.path.join(run, "history.csv")) as f:
        out[strategy] = {k: float(v) for k, v in next(csv.DictReader(f)).items() if v != ""}
    with open(os.path.join(run, "config.json")) as f:
        out[strategy + "_config"] = json.load(f)
    with open(os.path.join(run, "distill.json")) as f:
        out[strategy + "_distill"] = json.load(f)
stored = out["one_device_distill"]["teacher_shards"]
out["stored_records"] = sum(1 for p in sorted(os.listdir(stored)) if p.endswith(".tfrecord")
                            for _ in tf.data.TFRecordDataset(os.path.join(stored, p)))
print("RESULT " + json.dumps(out))
'''


def test_distilled_student_mirrored_two_cpus_equals_one_device(tmp_path):
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, env=env,
                          timeout=900, cwd=str(REPO))
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    res = json.loads(lines[-1][len("RESULT "):])
    # the distill log line states the set-up each run got from runsetup.setup_devices
    runs = [l for l in proc.stdout.splitlines() if l.startswith("distill ")]
    assert len(runs) == 2 and "replicas=1" in runs[0] and "replicas=2" in runs[1], runs
    assert all("precision=float32" in l and "steps/epoch=2" in l for l in runs), runs
    assert res["one_device_config"]["strategy"] == "one_device" and res["mirrored_config"]["strategy"] == "mirrored"
    assert res["mirrored_config"]["data"]["w300lp_subsets"] == ["AFW", "HELEN", "IBUG", "LFPW"]
    assert res["one_device_distill"]["teacher_shards"].endswith("teacher_shards_K0_d1_noflip")
    assert res["stored_records"] == 8  # the _Flip records are not distilled
    one, two = res["one_device"], res["mirrored"]
    for key in ("loss", "loss_ce", "loss_kl", "mae_mean"):
        assert np.isfinite(one[key]) and one[key] > 0, key
        np.testing.assert_allclose(two[key], one[key], rtol=1e-4, err_msg=key)
