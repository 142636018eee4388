"""Course helpers for the PyTorch deep learning course.

Each module holds one concern and names the chapter that builds it:

- ``utils.env``        profiles, device, seeding, threads and ``setup()`` (chapter 00)
- ``utils.cpus``       how many CPU cores this process can really use (chapter 00)
- ``utils.versions``   installed packages against the tested set; these helpers' own version (chapter 00)
- ``utils.expect``     experiments that state the range their result should fall in (chapter 00)
- ``utils.exercises``  exercises that answer back: ``check()``, ``hint()``, ``solution()`` (chapter 00;
  one module per chapter, ``utils.exercises.chNN``)
- ``utils.plots``      one look for every figure: colours, sizes, labels (chapter 01)
- ``utils.widgets``    interactive widgets with a static figure when run headless (chapter 01)
- ``utils.perceptron`` the perceptron learning rule (chapter 02)
- ``utils.data``       data sets for the quick and full profiles, splits and loaders (chapter 05)
- ``utils.download``   downloads with checksum, retries, resume and atomic rename (chapter 05)
- ``utils.training``   ``fit()``: train, validate, keep the best checkpoint, resume (chapter 05)
- ``utils.checkpoints`` atomic checkpoints, and resuming only what matches the run (chapter 05)
- ``utils.counting``   parameters, multiply-accumulates and receptive fields, layer by layer (chapter 08)
- ``utils.cnn``        LeNet-5 and a VGG builder (chapter 09)
- ``utils.resnet``     BasicBlock, Bottleneck, ResNets and their plain twins (chapter 10)
- ``utils.shapes``     Shapes-10, the offline colour image set, written once as an image folder (chapter 11)
- ``utils.imagesets``  image folders read strictly: CIFAR-10 and Food-11 for the full profile (chapter 11)
- ``utils.augment``    augmentation presets with torchvision's transforms v2, and mixup (chapter 11)
- ``utils.pretrained`` the course's own pre-trained backbone (cached), transfer tasks, ImageNet's ResNet-18
  (chapter 13)
- ``utils.ffdi``       the deepfake challenge's files: label files checked line by line, the Dataset, the
  submission file (chapter 14)
- ``utils.metrics``    the ROC curve, its AUC and the TPR at a fixed FPR, from scratch (chapter 14)
- ``utils.fakes``      the generated mini deepfake set in the challenge's layout, one kind of fake held out
  (chapter 14)
- ``utils.forensics``  a fixed high-pass layer, the average log spectrum, occlusion maps (chapter 14)
- ``utils.speed``      what mixed precision, channels-last, ``torch.compile``, loader workers and batch size
  buy here, measured as ratios (chapter 15)
- ``utils.distributed`` several processes under torchrun: ranks, shards, the scaled learning rate (chapter 15)
- ``utils.speedrun``   the speed-run recipe (whitening, batch-norm tweaks, lookahead, test-time flip) and its
  ablation (chapter 15)
- ``utils.vit``        attention by hand, multi-head self-attention and a small vision transformer (chapter 15)
- ``utils.scaling``    EfficientNet's compound scaling and a small compound-scaled CNN family (chapter 15)
- ``utils.compress``   magnitude pruning, dynamic quantisation, size and latency, distillation (chapter 15)

and two tools for instructors, which need ``pip install 'dl-course-utils[instructor]'``:

- ``utils.release``    the student copy, solutions replaced by stubs (``make release``)
- ``utils.grading``    grades a folder of completed notebooks (``make grade``), with
  ``utils.submission`` (a student's answers put into the release) and ``utils.answer_scan``
  (what in an answer cell an instructor should look at)

``import utils`` is light: it imports neither torch nor matplotlib, so the instructor tools start
fast; ``from utils import setup, expect`` loads them on first use.
"""
from __future__ import annotations

import importlib

from utils.expect import expect  # light; imported here so that the name is the function, never the module
from utils.versions import check_helpers_version

#: These helpers' version. Every notebook's setup cell names the version it was written for and
#: installs exactly it on Colab, Kaggle and Tianchi (the git tag ``v`` + this version).
__version__ = "0.1.0"

#: The GitHub repository that Colab badges and the setup cell fetch from.
REPO = "deep-learning-course/course"

#: The names ``from utils import ...`` offers, and the module each is loaded from on first use.
_LAZY = {"Profile": "utils.env", "choose_device": "utils.env", "profile": "utils.env",
         "seed_everything": "utils.env", "setup": "utils.env"}

__all__ = ["REPO", "__version__", "check_helpers_version", "expect", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'utils' has no attribute {name!r}")
