"""Models: ResNet backbones with named taps, heads, SL/HMTL networks (importing this registers custom layers)."""
from hmtl_tf.models.backbone import TAP_STRIDES, STAGE_CHANNELS, build_backbone
from hmtl_tf.models.layers import HopeNetDecode, ImagePreprocess, SqueezeLast
from hmtl_tf.models.hmtl import MultiTaskModel, build_inference_model, build_network

__all__ = ["TAP_STRIDES", "STAGE_CHANNELS", "build_backbone", "HopeNetDecode", "ImagePreprocess", "SqueezeLast",
           "MultiTaskModel", "build_inference_model", "build_network"]
