"""keras-cheats: the deep-learning cheat sheet as Keras 3 layers, losses and
models."""

__version__ = "0.1.0"
