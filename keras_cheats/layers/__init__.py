"""Capsule-network layers of cheat-sheet section 7.3.2 (Sabour, Frosst and
Hinton 2017): squash, primary capsules, digit capsules with routing by
agreement, capsule length and masking; the VAE's sampling layer."""

from keras_cheats.layers.digit_capsules import DigitCapsules
from keras_cheats.layers.length import Length
from keras_cheats.layers.mask import Mask
from keras_cheats.layers.primary_capsules import PrimaryCapsules
from keras_cheats.layers.routing import routing_by_agreement
from keras_cheats.layers.sampling import Sampling, reparameterize
from keras_cheats.layers.squash import Squash, safe_norm, squash

__all__ = [
    "DigitCapsules",
    "Length",
    "Mask",
    "PrimaryCapsules",
    "Sampling",
    "Squash",
    "reparameterize",
    "routing_by_agreement",
    "safe_norm",
    "squash",
]
