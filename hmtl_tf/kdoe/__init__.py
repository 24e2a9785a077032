"""KD-OE (Sheka & Samun): offset ensemble (Eq. 5-6) and knowledge distillation from it (Eq. 7).

Modules: ``offsets`` (Eq. 5), ``ensemble`` (Eq. 6, batched in the graph), ``losses`` (Eq. 4, 7),
``model`` (stage-1 network, student, inference model); its pose-changing augmentations (§4.3) live in the data
layer, ``hmtl_tf.data.rotation_aug``.
"""
