"""hmtl_tf: HMTL head-pose estimation (HopeNet + self-supervised heads) on TensorFlow 2 / Keras 3.

All dependency versions are pinned here and only here (the Makefile installs ``.[test]``).
"""
from setuptools import find_packages, setup

INSTALL_REQUIRES = [
    "tensorflow==2.21.0",
    "keras==3.15.1",
    "tensorboard==2.21.0",  # TF 2.21 no longer installs it; run directories keep TensorBoard logs
    "numpy==2.4.6",
    "scipy==1.17.1",
    "pandas==3.1.1",
    "opencv-python-headless==4.14.0.94",  # 4.x: OpenCV 5 dropped CascadeClassifier (the offline face detector)
    "absl-py==2.5.1",
    "matplotlib==3.11.2",
    "h5py==3.14.0",
    "pillow==13.0.0",
    "mtcnn==1.0.0",  # the default face detector of predict (weights inside the wheel; offline)
    "joblib==1.6.0",  # mtcnn's weight loader
    "lz4==4.4.5",  # mtcnn's weight files
]

EXTRAS_REQUIRE = {
    "test": ["pytest==9.2.0", "pytest-xdist==3.8.0"],  # make test runs two workers (CI has 2 cores)
    # ONNX export (issue 6); tf2onnx 1.17 converts Keras 3 ResNet50 exactly.
    "export": ["tf2onnx==1.17.0", "onnxruntime==1.31.1", "onnx==1.23.2"],
    # PyTorch peer in benchmarks/train_step.py (CPU wheel lies on this machine's disk).
    "benchmark": ["torch==2.13.0"],
}

setup(
    name="hmtl_tf",
    version="0.1.0",
    description="HMTL head-pose estimation with self-supervised auxiliary heads (TF2/Keras 3), "
                "with KD-OE and MNN peers",
    packages=find_packages(include=["hmtl_tf", "hmtl_tf.*", "data_prep", "data_prep.*",
                                    "experiments", "experiments.*"]),
    python_requires=">=3.10,<3.13",
    package_data={"hmtl_tf.detect": ["defaults/*.json"]},
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
)
