"""One typed configuration for every run (SPEC sections 1, 5 and 8).

The CLI flags of ``hmtl_tf.train`` and the experiment rows in ``experiments/`` are thin layers over
these dataclasses. Every choice that changes numbers is a field here, and the resolved config is
written into each run directory (``config.json``), so every result states how it was produced.

Scales (SPEC section 1): ``paper`` is the paper's protocol (224 px, batch 64, 110 epochs, real data);
``smoke`` is the same code path at CPU size (small images, few epochs, synthetic data).
"""
from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

import hmtl_tf.ssl.tasks  # noqa: F401  (registers the built-in SSL tasks)
from hmtl_tf.data import datasets as dataset_registry
from hmtl_tf.ssl import registry as ssl_registry

HEADS = ("hopenet", "regression")
FAMILIES = ("hmtl", "kdoe", "mnn")
BACKBONES = ("resnet50", "resnet101", "resnet152", "resnet18", "resnet34")
OPTIMIZERS = ("adabelief", "adam")
LOSS_WEIGHTINGS = ("fixed", "uncertainty", "geometric")
CROP_POLICIES = ("hopenet", "visible", "boxes", "none")
ANGLES3 = ("yaw", "pitch", "roll")
ANGLES2 = ("yaw", "pitch")
ANGLE_LIMIT = 99.0  # degrees; HopeNet bins span [-99, 99) and the +-99 filter (SPEC section 2)
SELECTIONS = ("final", "best_heldout", "best_on_test")  # model-selection rules (TrainConfig.selection)
# 300W-LP subset folders (DATA_FACTS 1.1): the four originals (61,225 images, HMTL Sec. 3.4 "300W-LP contains 61225
# images"; MNN Sec. 4.1 idem) and their ``_Flip`` mirror copies (all eight: 122,450, KD-OE Sec. 4.1 and HopeNet).
# The shards hold all eight; ``data.w300lp_subsets`` chooses at training time ("all" = the eight).
W300LP_ORIGINALS = ("AFW", "HELEN", "IBUG", "LFPW")
W300LP_SUBSETS = ("AFW", "AFW_Flip", "HELEN", "HELEN_Flip", "IBUG", "IBUG_Flip", "LFPW", "LFPW_Flip")

# Named image-augmentation sets (``--aug_set``), each the image-only ops of one set-up in the order applied; the
# ops are implemented in ``hmtl_tf.data.augment``. The label-changing augmentations are their own fields (``flip``,
# ``rotate_deg``) and run first (KD-OE Sec. 4.3); ``zoom`` is folded into the crop box; the occluding ops
# (OCCLUDING_AUG_OPS) run after the SSL transform (HMTL Sec. 4.3: the puzzle is applied "before performing
# cutout"), so an occluder is never split across puzzle tiles.
AUG_SETS: Dict[str, Tuple[str, ...]] = {
    "none": (),
    "hmtl_l1": ("zoom", "contrast"),                                         # Sec. 4.2 level 1 (Tables 2-5)
    "hmtl_l2": ("zoom", "contrast", "blur", "downscale", "cutout"),          # Sec. 4.2 level 2 (Tables 2-5)
    "table1": ("zoom", "hue"),                                               # Sec. 4.1 (Table 1)
    "eth_heavy": ("zoom", "noise", "cutout", "hue", "brightness", "contrast"),  # Sec. 5.2 (Table 6)
    # KD-OE Sec. 4.3 (Albumentations): OneOf(HueSaturationValue, CLAHE, Equalize, Solarize) p=0.5, OneOf(
    # ChannelShuffle, ChannelDropout) p=0.5, MedianBlur p=0.5, OneOf(RandomShadow, ISONoise) p=0.5, CoarseDropout p=0.5
    "kdoe": ("kdoe_colour", "kdoe_channel", "median_blur", "kdoe_shadow_noise", "coarse_dropout"),
}
AUG_OPS = ("zoom", "contrast", "blur", "downscale", "cutout", "noise", "hue", "brightness",
           "kdoe_colour", "kdoe_channel", "median_blur", "kdoe_shadow_noise", "coarse_dropout")
OCCLUDING_AUG_OPS = ("cutout", "coarse_dropout")
LEVEL_AUG_SETS = {0: "none", 1: "hmtl_l1", 2: "hmtl_l2"}  # the legacy ``aug_level`` values


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field/flag and what was expected."""


def ssl_task_choices() -> Tuple[str, ...]:
    """The ``--ssl`` values: ``none`` and every registered SSL task (``hmtl_tf.ssl.registry``)."""
    return ("none",) + ssl_registry.task_names()


def __getattr__(name: str):
    """``SSL_TASKS`` and ``DATASETS`` (the named sets of ``hmtl_tf.data.datasets``) are read from their registries
    when asked, so a task or dataset registered later is a choice too."""
    if name == "SSL_TASKS":
        return ssl_task_choices()
    if name == "DATASETS":
        return dataset_registry.set_names()
    raise AttributeError(f"module 'hmtl_tf.config' has no attribute {name!r}")


def ssl_task(task: str) -> "ssl_registry.SSLTask":
    """The registered SSL task ``task``; a one-line ConfigError naming ``--ssl`` for an unknown one."""
    try:
        return ssl_registry.get_task(task)
    except KeyError:
        raise ConfigError(f"--ssl={task!r}: expected one of {', '.join(ssl_task_choices())}") from None


def ssl_grid(task: str) -> int:
    """Grid size N of an SSL task (``puzzle3x3`` -> 3, as its declaration states); 0 for ``none``."""
    return 0 if task == "none" else ssl_task(task).grid


@dataclass
class DataConfig:
    train: str = "300w_lp"          # a prepared shard directory, or a dataset name under data_root
    # The test set: evaluated at the end with the selected weights (metrics.json[<name>]); its per-epoch curve
    # (history.csv ``test_*``) is monitoring only, unless ``selection=best_on_test`` (SPEC 8).
    val: str = "aflw2000"
    extra_test: Tuple[str, ...] = ()  # more test sets treated like ``val`` (history ``test_<name>_*``)
    # Held-out part of the training data (monitoring; the set of ``selection=best_heldout``): this fraction of the
    # training *sources* (300W-LP: a source face with all its views and _Flip copies; ETH-XGaze: a subject; BIWI:
    # a sequence) by a stable hash, removed from training. 0 = train on everything (the paper's set sizes).
    val_split: float = 0.0
    heldout: str = ""               # or a named held-out set (dataset name / shard directory) instead of val_split
    data_root: str = "data/shards"  # where dataset names are looked up (``<data_root>/<name>``)
    image_size: int = 224           # input side in px (224 in Sec. 4.2; smoke: 64)
    crop_policy: str = "hopenet"    # recorded in the shards; the pipeline applies its random margin
    aug_level: int = 1              # 0 none, 1 central zoom + contrast, 2 + blur, down-scale, cutout (Sec. 4.2)
    heavy_aug: bool = False         # ETH-XGaze style (Table 6): zoom, noise, cutout, hue, brightness, contrast
    flip: bool = False              # horizontal flip p=0.5 with (yaw, roll) -> (-yaw, -roll); no HMTL set-up lists it
    hue_aug: bool = False           # legacy: adds a random hue to the aug_level set (Table 1 is aug_set=table1)
    aug_set: str = ""               # a name of AUG_SETS or ops joined by "+" (zoom+hue); "" = the three fields above
    rotate_deg: float = 0.0         # KD-OE: in-plane rotation in [-r, r] with the exact label change (15 there)
    shuffle_buffer: int = 4096      # records in the training shuffle buffer
    max_train_samples: int = 0      # 0 = all; >0 keeps the first N (Table 6 low-data uses subjects instead)
    subjects: Tuple[str, ...] = ()  # ETH-XGaze subject filter (Table 6), empty = all in the split
    # 300W-LP training subsets (W300LP_SUBSETS, or "all"): default the paper's 61,225 (no _Flip); KD-OE rows: all
    w300lp_subsets: Tuple[str, ...] = W300LP_ORIGINALS
    cache: bool = False             # cache decoded shards in memory (small sets only)


@dataclass
class SSLConfig:
    task: str = "none"              # one of SSL_TASKS: none + the tasks registered in hmtl_tf/ssl/tasks/
    flag: int = 3                   # 1..4 = after conv2_x .. conv5_x (Sec. 3.2, Fig. 2)
    weight: float = 50.0            # multiplies the summed SSL cross-entropies (50 in Sec. 4.2, 1 in Sec. 4.1)
    prob: float = 1.0               # probability that a training image is puzzled/rotated (SPEC 8)
    max_rotated_tiles: int = 2      # puzzle_rotation2x2: at most this many tiles rotated (Sec. 3.1)
    heads: bool = True              # False = "HMTL w/o SSHs" ablation (Table 5): puzzled input, no SSL heads
    dropout: float = 0.2            # before each SSL head


@dataclass
class ModelConfig:
    family: str = "hmtl"            # hmtl (SL/HMTL) | kdoe (KD-OE stage 1) | mnn (MNN encoder-decoder)
    tasks: str = ""                 # family-specific task set, e.g. mnn: landmarks | pose | all ("" = default)
    backbone: str = "resnet50"      # one of BACKBONES (ResNet50 in the paper, Sec. 3.1)
    head: str = "hopenet"           # hopenet | regression
    angles: Tuple[str, ...] = ANGLES3  # predicted angles, a subset of ANGLES3 (ETH-XGaze: yaw, pitch)
    bin_size: int = 3               # hopenet: 3 -> 66 bins, 1 -> 198 bins over [-99, 99)
    alpha: float = 2.0              # weight of the regression term of Eq. 2
    reg_loss: str = "rmse"          # rmse (Eq. 2 as written) | mse (HopeNet's code)
    decode: str = "left_edge"       # left_edge (HopeNet reference) | centre (bin centres)
    dropout: float = 0.5            # before the supervised heads (0.4 in Tables 1/6, 0.5 in Tables 2-5)
    init: str = "random"            # random | imagenet | path to a weights file of our own pre-training
    imagenet_weights: str = ""      # explicit ImageNet weights file (else the Keras cache is used)
    freeze_backbone: bool = False   # linear evaluation (Table 4 "LE")
    sync_bn: bool = False           # cross-replica batch norm (off = per-replica BN, as the paper's 2-GPU runs)
    bn_momentum: float = 0.99       # batch-norm moving-average momentum (Keras default; smoke: 0.9, few steps)
    fused_bn: bool = True           # TF's fused batch-norm kernel in training: Keras' numbers, ~1.2x faster CPU step


@dataclass
class OptimConfig:
    optimizer: str = "adabelief"    # one of OPTIMIZERS (AdaBelief in Sec. 4.2)
    lr: float = 1e-3                # initial learning rate, > 0 (1e-3 in Sec. 4.2)
    schedule: str = "step"          # step | cosine | constant
    lr_drops: Tuple[int, ...] = (20, 100)   # epochs where the LR is multiplied by drop_factor
    drop_factor: float = 0.1        # LR multiplier at each of lr_drops
    warmup_epochs: int = 0          # linear warm-up (Table 4 fine-tuning: 5)
    weight_decay: float = 0.0       # decoupled (AdamW-style) weight decay
    epsilon: float = 1e-14          # AdaBelief epsilon (inside the second moment); adabelief-tf 0.2.0's default
    rectify: bool = True            # RAdam-style rectification (SMA threshold 5); adabelief-tf 0.2.0's default
    amsgrad: bool = False           # AMSGrad variant of the second moment
    adabelief_variant: str = "tf"   # tf (adabelief-tf 0.2.0, the authors') | pytorch (adabelief-pytorch 0.2.0)
    loss_weighting: str = "fixed"   # fixed (paper) | uncertainty (Kendall et al.) | geometric


@dataclass
class MNNConfig:
    """MNN (Valle et al., ``model.family=mnn``) options; CLI flags ``--mnn_<field>`` (e.g. ``--mnn_alpha_ae``).

    Loss weights of their Eq. 5 (tuned there from converged single-task loss magnitudes, values not published;
    ours with ED in degrees, AE in 256-px pixels, CEs in nats). Augmentation: their Sec. 4.2 set
    (``hmtl_tf.data.mnn_augment``), used when ``augment`` is on (the MNN rows), with ``data.flip`` for the mirroring.
    """
    alpha_ed: float = 1.0           # alpha_p1: Euclidean pose loss (Eq. 1)
    alpha_ae: float = 1.0           # alpha_p2: alignment loss of the projected mean face (Eq. 2)
    alpha_heatmap: float = 1.0      # alpha_h: heatmap cross-entropy (Eq. 3)
    alpha_visibility: float = 1.0   # alpha_v: visibility cross-entropy (Eq. 4); 0 switches the term off
    augment: bool = False           # their Sec. 4.2 augmentation set on training images
    translate: float = 0.05         # "translation by +-5% of the bounding box size" (our crop box)
    scale: float = 0.15             # "scaling by +-15%": face size x U[1 - s, 1 + s]
    hsv: Tuple[float, float] = (0.5, 1.5)  # "multiplying each HSV channel by a random value between [0.5, 1.5]"
    occlusion_prob: float = 0.5     # synthetic rectangular occlusion per image (probability: not in the paper)
    occlusion_size: Tuple[float, float] = (0.1, 0.5)  # rectangle sides, fractions of the input side (ours)


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    ssl: SSLConfig = field(default_factory=SSLConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    mnn: MNNConfig = field(default_factory=MNNConfig)
    epochs: int = 110               # training epochs (110 in Sec. 4.2)
    batch_size: int = 64            # global batch (split over replicas)
    steps_per_epoch: int = 0        # 0 = one pass over the training data
    seed: int = 0                   # seeds Python, NumPy, TF and the input pipeline (stateless per epoch)
    run: str = ""                   # output directory
    scale: str = "paper"            # paper | smoke
    # The GPU recipe (hmtl_tf.runsetup, docs/GPU.md): each switch "auto" = on for accelerators, off on CPU
    mixed_precision: str = "auto"   # dtype policy; auto (GPU: float16+loss scale) | on | off | float16 | bfloat16
    strategy: str = "auto"          # auto | one_device | mirrored | multi_worker
    xla: str = "auto"               # jit_compile of the train step; auto (GPUs, if it compiles) | on | off
    steps_per_execution: int = 0    # train steps per compiled call; 0 = auto (GPUs 16, CPU 1)
    prefetch_to_device: str = "auto"  # copy batches to the GPU ahead; auto (one GPU) | on | off
    transforms_on: str = "host"     # where augmentation + SSL transforms run; host (tf.data) | device (train step)
    deterministic: bool = False     # tf.config.experimental.enable_op_determinism (bit-exact resume; slower)
    initial_weights: str = ""       # a saved initial-weights file (Table 6: identical init for all methods)
    # Which epoch's weights produce the reported numbers (SPEC 8; every metrics.json / report states it):
    # final (default) | best_heldout (lowest held-out MAE: --val_split / --heldout) | best_on_test (labelled)
    selection: str = "final"

    # ------------------------------------------------------------------ helpers
    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "TrainConfig":
        def build(kind, values):
            kw = {}
            for f in dataclasses.fields(kind):
                if f.name not in values:
                    continue
                v = values[f.name]
                if isinstance(v, list):
                    v = tuple(v)
                kw[f.name] = v
            return kind(**kw)

        top = {k: v for k, v in d.items() if k not in ("data", "model", "ssl", "optim", "mnn")}
        cfg = build(cls, top)
        cfg.data = build(DataConfig, d.get("data", {}))
        cfg.model = build(ModelConfig, d.get("model", {}))
        cfg.ssl = build(SSLConfig, d.get("ssl", {}))
        cfg.optim = build(OptimConfig, d.get("optim", {}))
        cfg.mnn = build(MNNConfig, d.get("mnn", {}))
        return cfg

    @classmethod
    def from_json(cls, text: str) -> "TrainConfig":
        return cls.from_dict(json.loads(text))

    def validate(self) -> "TrainConfig":
        """Checks every value cheaply, before anything heavy starts; raises ConfigError (one line)."""
        validate(self)
        return self


# Smoke scale: the same code path at CPU size (SPEC section 1). 64 px keeps flag 4's map at 2x2.
SMOKE_OVERRIDES: Dict[str, Any] = {
    "epochs": 4,
    "batch_size": 16,
    "data.image_size": 64,
    "data.shuffle_buffer": 512,
    "optim.lr_drops": (3,),
    # a few hundred steps: with 0.99 the moving statistics used at validation lag far behind the weights
    "model.bn_momentum": 0.9,
}
# The experiment rows at smoke scale (experiments/rows.py): every row runs the paper's command with ``--scale=smoke``
# (the overrides above: 64 px, synthetic heads) and these CPU-tiny budgets, the same for every row so the rows keep
# their relative set-up (same epochs, batch, data per run of a dataset; more ETH-XGaze subjects = more steps, as in
# the paper). Measured on the shared 2-core CPU: about 1.5 min per row (process start, ~40 s first trace of the
# ResNet50 step, 2 short epochs, inference export, evaluation).
SMOKE_ROW: Dict[str, int] = {
    "epochs": 2,                 # per row (the paper: 110)
    "batch_size": 8,             # per row (the paper: 64)
    "max_train_samples": 96,     # 300W-LP images per row: 12 steps of 8 per epoch (ETH-XGaze rows: all images of
                                 # their subjects, 60 per synthetic subject = 7 steps per subject and epoch)
    "warmup_epochs": 1,          # the fine-tuning warm-up of the pre-trained rows (paper: 5)
    "pretrain_epochs": 1,        # SSL pre-training jobs (paper: 64 epochs, batch 64)
    "pretrain_steps": 6,         # steps of the row batch in that epoch
    "probe_val_batches": 2,      # validation batches of the online linear probe
}


def apply_overrides(cfg: TrainConfig, overrides: Dict[str, Any]) -> TrainConfig:
    """Applies ``{"section.field": value}`` overrides (``"epochs"`` for top-level fields)."""
    for key, value in overrides.items():
        target = cfg
        parts = key.split(".")
        for p in parts[:-1]:
            target = getattr(target, p)
        if not hasattr(target, parts[-1]):
            raise ConfigError(f"unknown config field {key!r}")
        setattr(target, parts[-1], value)
    return cfg


SECTIONS = ("data", "model", "ssl", "optim", "mnn")


def replace_fields(cfg: TrainConfig, changes: Dict[str, Any]) -> TrainConfig:
    """A new TrainConfig: a copy of ``cfg`` (no section shared) with :func:`apply_overrides` ``changes``; ``cfg``
    itself is left as it was (train.run resolves its derived fields this way before writing config.json)."""
    return apply_overrides(copy.deepcopy(cfg), changes)


def field_defaults() -> Dict[str, Any]:
    """``{"section.field": default}`` of every TrainConfig field (top-level fields without a section)."""
    out: Dict[str, Any] = {}
    for f in dataclasses.fields(TrainConfig):
        if f.name in SECTIONS:
            out.update({f"{f.name}.{g.name}": _default(g) for g in dataclasses.fields(f.default_factory)})
        else:
            out[f.name] = _default(f)
    return out


def _default(f: dataclasses.Field):
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]


def _typed(key: str, value: Any, default: Any) -> Any:
    """``value`` as the type of ``default`` (an int is taken for a float, a list for a tuple); ConfigError else."""
    if isinstance(default, tuple):
        if not isinstance(value, (tuple, list)):
            raise ConfigError(f"{key}={value!r}: expected a tuple")
        return tuple(_typed(f"{key}[{i}]", v, default[0] if default else "") for i, v in enumerate(value))
    kind = bool if isinstance(default, bool) else type(default)
    ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not ok:
        raise ConfigError(f"{key}={value!r}: expected {kind.__name__}")
    return value


def check_overrides(overrides: Dict[str, Any]) -> Dict[str, Any]:
    """``{"section.field": value}`` checked against the dataclasses: each key a TrainConfig field, each value of its
    field's type (bool, int, float, str, a tuple of the default's kind); returns them normalised (an int given for a
    float is a float, a list a tuple), in order. A misspelt field or a wrong type is a ConfigError naming it (the
    experiment rows check theirs when they are built, so a typo fails at import)."""
    defaults = field_defaults()
    out: Dict[str, Any] = {}
    for key, value in overrides.items():
        if key not in defaults:
            raise ConfigError(f"unknown config field {key!r}")
        out[key] = _typed(key, value, defaults[key])
    return out


def min_input_size(flag: int) -> int:
    """Smallest input whose tap at ``flag`` is at least 2x2 (strides 4, 8, 16, 32 for flags 1-4)."""
    return 2 * (2 ** (flag + 1))


def validate(cfg: TrainConfig) -> None:
    d, m, s, o = cfg.data, cfg.model, cfg.ssl, cfg.optim
    if s.flag not in (1, 2, 3, 4):
        raise ConfigError(f"--flag={s.flag}: expected 1, 2, 3 or 4 (the outputs of conv2_x..conv5_x)")
    grid = ssl_grid(s.task)
    if m.family not in FAMILIES:
        raise ConfigError(f"--family={m.family!r}: expected one of {', '.join(FAMILIES)}")
    if m.head not in HEADS:
        raise ConfigError(f"--head={m.head!r}: expected one of {', '.join(HEADS)}")
    if m.backbone not in BACKBONES:
        raise ConfigError(f"--backbone={m.backbone!r}: expected one of {', '.join(BACKBONES)}")
    if m.head == "hopenet":
        if m.bin_size <= 0 or (2 * int(ANGLE_LIMIT)) % m.bin_size != 0:
            raise ConfigError(f"--bin_size={m.bin_size}: expected a positive divisor of 198 (e.g. 1, 2, 3, 6)")
    if m.reg_loss not in ("rmse", "mse"):
        raise ConfigError(f"--reg_loss={m.reg_loss!r}: expected rmse or mse")
    if m.decode not in ("left_edge", "centre"):
        raise ConfigError(f"--decode={m.decode!r}: expected left_edge or centre")
    if not set(m.angles) <= set(ANGLES3) or not m.angles:
        raise ConfigError(f"angles={m.angles!r}: expected a subset of yaw, pitch, roll")
    if d.image_size < min_input_size(4 if grid == 0 else s.flag):
        need = min_input_size(4 if grid == 0 else s.flag)
        raise ConfigError(f"--image_size={d.image_size}: too small, the flag's feature map needs at least {need} px")
    if grid and grid > d.image_size:
        raise ConfigError(f"--ssl={s.task}: a {grid}x{grid} grid is larger than the {d.image_size}-px input")
    if not 0.0 <= d.rotate_deg <= 45.0:
        raise ConfigError(f"--rotate_deg={d.rotate_deg}: expected 0..45 degrees")
    if not 0.0 < m.bn_momentum < 1.0:
        raise ConfigError(f"--bn_momentum={m.bn_momentum}: expected a value in (0, 1)")
    if d.aug_level not in (0, 1, 2):
        raise ConfigError(f"--aug_level={d.aug_level}: expected 0, 1 or 2")
    if d.aug_set:
        bad = [o for o in d.aug_set.split("+") if o not in AUG_OPS] if d.aug_set not in AUG_SETS else []
        if bad:
            raise ConfigError(f"--aug_set={d.aug_set!r}: expected one of {', '.join(AUG_SETS)} or ops joined by '+' "
                              f"from {', '.join(AUG_OPS)} (unknown: {', '.join(bad)})")
        if d.heavy_aug or d.hue_aug:
            raise ConfigError(f"--aug_set={d.aug_set} replaces --heavy_aug / --hue_aug: give one or the other")
    w300lp_subsets(d)  # raises on an unknown name
    if d.crop_policy not in CROP_POLICIES:
        raise ConfigError(f"--crop_policy={d.crop_policy!r}: expected one of {', '.join(CROP_POLICIES)}")
    if o.optimizer not in OPTIMIZERS:
        raise ConfigError(f"--optimizer={o.optimizer!r}: expected one of {', '.join(OPTIMIZERS)}")
    if o.adabelief_variant not in ("tf", "pytorch"):
        raise ConfigError(f"--adabelief_variant={o.adabelief_variant!r}: expected tf or pytorch")
    if o.schedule not in ("step", "cosine", "constant"):
        raise ConfigError(f"--schedule={o.schedule!r}: expected step, cosine or constant")
    if o.loss_weighting not in LOSS_WEIGHTINGS:
        raise ConfigError(f"--loss_weighting={o.loss_weighting!r}: expected one of {', '.join(LOSS_WEIGHTINGS)}")
    if not 0.0 <= s.prob <= 1.0:
        raise ConfigError(f"--ssl_prob={s.prob}: expected a probability in [0, 1]")
    if not s.weight >= 0.0:
        raise ConfigError(f"--ssl_weight={s.weight}: expected a weight >= 0 (50 in Sec. 4.2, 1 in Sec. 4.1)")
    for flag_name, v in (("dropout", m.dropout), ("ssl_dropout", s.dropout)):
        if not 0.0 <= v < 1.0:
            raise ConfigError(f"--{flag_name}={v}: expected a dropout rate in [0, 1)")
    if not o.lr > 0.0:
        raise ConfigError(f"--lr={o.lr}: expected a learning rate > 0")
    if cfg.steps_per_epoch < 0:
        raise ConfigError(f"--steps_per_epoch={cfg.steps_per_epoch}: expected 0 (one pass over the data) or more")
    validate_mnn(cfg.mnn)
    validate_selection(cfg)
    if cfg.epochs <= 0 or cfg.batch_size <= 0:
        raise ConfigError(f"--epochs={cfg.epochs} --batch_size={cfg.batch_size}: expected positive integers")
    if cfg.scale not in ("paper", "smoke"):
        raise ConfigError(f"--scale={cfg.scale!r}: expected paper or smoke")
    validate_recipe(cfg)
    if cfg.strategy not in ("auto", "one_device", "mirrored", "multi_worker"):
        raise ConfigError(f"--strategy={cfg.strategy!r}: expected auto, one_device, mirrored or multi_worker")


PRECISIONS = ("auto", "on", "off", "float16", "bfloat16")
SWITCHES = ("auto", "on", "off")
TRANSFORMS_ON = ("host", "device")


def xla_mode(value) -> str:
    """``cfg.xla`` as auto | on | off (run configs written before the switch held a boolean)."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def validate_recipe(cfg: TrainConfig) -> None:
    """The GPU-recipe switches (docs/GPU.md) and what device-side transforms support."""
    if cfg.mixed_precision not in PRECISIONS:
        raise ConfigError(f"--mixed_precision={cfg.mixed_precision!r}: expected one of {', '.join(PRECISIONS)}")
    if xla_mode(cfg.xla) not in SWITCHES:
        raise ConfigError(f"--xla={cfg.xla!r}: expected auto, on or off")
    if cfg.prefetch_to_device not in SWITCHES:
        raise ConfigError(f"--prefetch_to_device={cfg.prefetch_to_device!r}: expected auto, on or off")
    if cfg.steps_per_execution < 0:
        raise ConfigError(f"--steps_per_execution={cfg.steps_per_execution}: expected 0 (auto) or a positive count")
    if cfg.transforms_on not in TRANSFORMS_ON:
        raise ConfigError(f"--transforms_on={cfg.transforms_on!r}: expected host or device")
    if cfg.transforms_on == "device":
        why = ("--family=" + cfg.model.family if cfg.model.family != "hmtl" else
               "--rotate_deg" if cfg.data.rotate_deg > 0 else "--mnn_augment" if cfg.mnn.augment else "")
        if why:
            raise ConfigError(f"--transforms_on=device: not available with {why} (landmark / rotation transforms "
                              f"run on the host); use --transforms_on=host")


def validate_selection(cfg: TrainConfig) -> None:
    """The selection rule and the sets it needs (SPEC 8: the test set never picks the epoch unless asked)."""
    d = cfg.data
    if cfg.selection not in SELECTIONS:
        raise ConfigError(f"--selection={cfg.selection!r}: expected one of {', '.join(SELECTIONS)}")
    if not 0.0 <= d.val_split < 0.5:
        raise ConfigError(f"--val_split={d.val_split}: expected a fraction of the training sources in [0, 0.5)")
    if d.val_split > 0 and d.heldout:
        raise ConfigError(f"--val_split={d.val_split} --heldout={d.heldout}: give one held-out set, not both")
    if cfg.selection == "best_heldout" and not (d.val_split > 0 or d.heldout):
        raise ConfigError("--selection=best_heldout: needs a held-out split of the training data, e.g. "
                          "--val_split=0.05 (5% of the training sources) or --heldout=NAME")
    if cfg.selection == "best_on_test" and not d.val:
        raise ConfigError("--selection=best_on_test: needs a test set (--val)")


def validate_mnn(n: MNNConfig) -> None:
    alphas = {"alpha_ed": n.alpha_ed, "alpha_ae": n.alpha_ae, "alpha_heatmap": n.alpha_heatmap,
              "alpha_visibility": n.alpha_visibility}
    for name, v in alphas.items():
        if not v >= 0.0:
            raise ConfigError(f"--mnn_{name}={v}: expected a weight >= 0")
    if not 0.0 <= n.translate < 0.5:
        raise ConfigError(f"--mnn_translate={n.translate}: expected a fraction of the crop in [0, 0.5)")
    if not 0.0 <= n.scale < 1.0:
        raise ConfigError(f"--mnn_scale={n.scale}: expected a fraction in [0, 1)")
    if len(n.hsv) != 2 or not 0.0 < n.hsv[0] <= n.hsv[1]:
        raise ConfigError(f"--mnn_hsv={','.join(map(str, n.hsv))}: expected two multipliers 0 < lo <= hi")
    if not 0.0 <= n.occlusion_prob <= 1.0:
        raise ConfigError(f"--mnn_occlusion_prob={n.occlusion_prob}: expected a probability in [0, 1]")
    if len(n.occlusion_size) != 2 or not 0.0 < n.occlusion_size[0] <= n.occlusion_size[1] <= 1.0:
        raise ConfigError(f"--mnn_occlusion_size={','.join(map(str, n.occlusion_size))}: expected two fractions "
                          f"0 < lo <= hi <= 1 of the input side")


def w300lp_subsets(d: DataConfig) -> Tuple[str, ...]:
    """The 300W-LP subset folders a run trains on, in W300LP_SUBSETS order (``("all",)`` = the eight)."""
    names = tuple(d.w300lp_subsets)
    if names == ("all",):
        return W300LP_SUBSETS
    bad = [n for n in names if n not in W300LP_SUBSETS]
    if bad or not names:
        raise ConfigError(f"--w300lp_subsets={','.join(names)}: expected 'all' or names from "
                          f"{', '.join(W300LP_SUBSETS)}" + (f" (unknown: {', '.join(bad)})" if bad else ""))
    return tuple(n for n in W300LP_SUBSETS if n in names)


def aug_ops(d: DataConfig) -> Tuple[str, ...]:
    """The image-only augmentation ops of ``d``, in the order applied (``hmtl_tf.data.augment`` runs them).

    ``d.aug_set`` when set (a name of AUG_SETS, or ops joined by "+"); else the legacy fields of old run configs:
    the ``aug_level`` set, plus the ETH-XGaze heavy set (``heavy_aug``), plus ``hue`` (``hue_aug``).
    """
    if d.aug_set:
        return AUG_SETS[d.aug_set] if d.aug_set in AUG_SETS else tuple(d.aug_set.split("+"))
    return legacy_aug_ops(d.aug_level, d.heavy_aug, d.hue_aug)


def legacy_aug_ops(level: int, heavy: bool = False, hue: bool = False) -> Tuple[str, ...]:
    """The ops of the legacy fields: the ``aug_level`` set, + the Table 6 heavy set, + ``hue``."""
    ops = list(AUG_SETS[LEVEL_AUG_SETS.get(level, "none")])
    if heavy:
        ops += [o for o in AUG_SETS["eth_heavy"] if o not in ops]
    if hue and "hue" not in ops:
        ops.append("hue")
    return tuple(ops)


def make_config(scale: str = "paper", overrides: Optional[Dict[str, Any]] = None) -> TrainConfig:
    """The paper defaults (Tables 2-5 set-up), the smoke scale on request, then ``overrides``."""
    cfg = TrainConfig(scale=scale)
    if scale == "smoke":
        apply_overrides(cfg, SMOKE_OVERRIDES)
    if overrides:
        apply_overrides(cfg, overrides)
    return cfg
