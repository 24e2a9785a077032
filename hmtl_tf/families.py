"""Every model family the trainer can run, registered (``hmtl_tf.models.registry``): the one place above the
families that imports them all, so ``hmtl_tf.models`` never imports its peers ``kdoe`` and ``mnn``.

A new family: a ``<package>/family.py`` that calls ``register_family`` and one import line here (docs/EXTENDING.md).
"""
from __future__ import annotations

import hmtl_tf.kdoe.family  # noqa: F401  (registers "kdoe")
import hmtl_tf.mnn.family  # noqa: F401  (registers "mnn")
import hmtl_tf.models.hmtl_family  # noqa: F401  (registers "hmtl")
from hmtl_tf.models.registry import Family, get_family, register_family, registered_families

__all__ = ["Family", "get_family", "register_family", "registered_families"]
