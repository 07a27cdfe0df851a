"""keras-cheats: the deep-learning cheat sheet as Keras 3 layers, losses and
models.

Importing the package registers every custom layer, loss, model and
schedule with Keras, so a saved model loads with nothing else:

    import keras, keras_cheats
    model = keras.models.load_model("RUN/model.keras")
"""

__version__ = "0.1.0"

from keras_cheats import layers, losses, models, schedules  # noqa: E402

__all__ = ["layers", "losses", "models", "schedules"]
