"""MNN (Valle et al.): multi-task encoder-decoder for head pose, landmark heatmaps and visibility.

Trainer contract (``hmtl_tf.mnn.family`` registers it in ``hmtl_tf.models.registry``): ``build_network(cfg)``,
``TrainingModel(network, cfg)``, ``build_inference_model(cfg, network)``, ``needs_landmarks``,
``load_pretrained(network, path)``.
Modules: ``heatmaps`` (targets, spatial softmax, decoding, NME), ``losses`` (Eq. 1-4), ``mean_face``
(the mean 3-D face of Eq. 2 from training data), ``training`` (Eq. 5, weights ``cfg.mnn.alpha_*``), ``augment``
(their Sec. 4.2 augmentation set, ``cfg.mnn.augment``); the network is ``models.mnn``. 300W-LP visibility targets:
``hmtl_tf.data.sources.visibility`` (self-occlusion under the labelled pose).
The occlusion-aware regression-tree stage (OR, Sec. 3.2) is not implemented.
"""
from hmtl_tf.models.mnn import TASKS, build_inference_model, build_network, load_pretrained, task_set
from hmtl_tf.mnn.training import TrainingModel

needs_landmarks = True

__all__ = ["TASKS", "build_inference_model", "build_network", "load_pretrained", "task_set", "TrainingModel",
           "needs_landmarks"]
