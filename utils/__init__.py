"""Course helpers for the PyTorch deep learning course.

Each module holds one concern and names the chapter that builds it:

- ``utils.env``        profiles, device, seeding, threads and ``setup()`` (chapter 00)
- ``utils.expect``     experiments that state the range their result should fall in (chapter 00)
- ``utils.exercises``  exercises that answer back: ``check()``, ``hint()``, ``solution()`` (chapter 00)
- ``utils.widgets``    interactive widgets with a static figure when run headless (chapter 01)
"""
from utils.env import Profile, choose_device, profile, seed_everything, setup
from utils.expect import expect

#: The GitHub repository that Colab badges and the setup cell fetch from.
REPO = "deep-learning-course/course"

__all__ = ["REPO", "Profile", "choose_device", "expect", "profile", "seed_everything", "setup"]
