"""The update rules of `keras_cheats.update_rules` as Keras optimizers
(cheat sheet section 5), so that `loops.fit` trains with them.

    optimizer = rule_optimizers.Adam(learning_rate=1e-3)
    loops.fit(model, optimizer, task, data)

`RuleOptimizer` overrides the two methods a Keras optimizer subclass
writes, `build` (one optimizer variable per slot of the rule's state and
per trained weight) and `update_step` (read the state, call the pure rule,
assign what it returns). Learning-rate schedules, clipping and loss
scaling stay the base class's. The subclasses name a rule and its
hyperparameters; their defaults are Keras' (`SGD(0.01)` etc.).
`BY_NAME` maps the names the experiments use to the classes.
"""

import keras
import tensorflow as tf

from keras_cheats import update_rules

_register = keras.saving.register_keras_serializable(package="keras_cheats")


class RuleOptimizer(keras.optimizers.Optimizer):
    """A Keras optimizer that applies a pure rule of `update_rules`.

    Subclasses set `rule` and list their hyperparameters (constructor
    arguments besides the base class's) in `hyperparameters`.
    """

    rule = None
    hyperparameters = ()

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._slots = [
            self.add_optimizer_variables(
                variables, name, initializer=keras.initializers.Constant(c)
            )
            for name, c in self._slot_values().items()
        ]

    def _slot_values(self):
        return dict(update_rules.SLOTS[type(self).rule])

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        i = self._get_variable_index(variable)
        slots = [slot[i] for slot in self._slots]
        new_value, new_state = type(self).rule(
            tf.convert_to_tensor(variable),
            tf.cast(gradient, dtype),
            tuple(tf.convert_to_tensor(s) for s in slots),
            tf.cast(self.iterations + 1, dtype),  # t = 1 at the first step
            learning_rate=tf.cast(learning_rate, dtype),
            **self._rule_arguments(),
        )
        for slot, value in zip(slots, new_state, strict=True):
            self.assign(slot, value)
        self.assign(variable, new_value)

    def _rule_arguments(self):
        return {k: getattr(self, k) for k in self.hyperparameters}

    def get_config(self):
        config = super().get_config()
        config.update({k: getattr(self, k) for k in self.hyperparameters})
        return config


@_register
class SGD(RuleOptimizer):
    """W <- W - eta g (`update_rules.sgd`); = `keras.optimizers.SGD()`."""

    rule = staticmethod(update_rules.sgd)

    def __init__(self, learning_rate=0.01, name="sgd", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)


@_register
class Momentum(RuleOptimizer):
    """v <- mu v - eta g, W <- W + v (`update_rules.momentum`);
    = `keras.optimizers.SGD(momentum=momentum)`."""

    rule = staticmethod(update_rules.momentum)
    hyperparameters = ("momentum",)

    def __init__(
        self, learning_rate=0.01, momentum=0.9, name="momentum", **kwargs
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.momentum = momentum


@_register
class Nesterov(Momentum):
    """v <- mu v - eta g, W <- W + mu v - eta g (`update_rules.nesterov`);
    = `keras.optimizers.SGD(momentum=momentum, nesterov=True)`."""

    rule = staticmethod(update_rules.nesterov)

    def __init__(
        self, learning_rate=0.01, momentum=0.9, name="nesterov", **kwargs
    ):
        super().__init__(learning_rate, momentum, name=name, **kwargs)


@_register
class Adagrad(RuleOptimizer):
    """G <- G + g^2, W <- W - eta g / sqrt(G + eps)
    (`update_rules.adagrad`); = `keras.optimizers.Adagrad()`."""

    rule = staticmethod(update_rules.adagrad)
    hyperparameters = ("initial_accumulator_value", "epsilon")

    def __init__(
        self, learning_rate=0.001, initial_accumulator_value=0.1,
        epsilon=1e-7, name="adagrad", **kwargs,
    ):  # fmt: skip
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def _slot_values(self):
        return {"accumulator": self.initial_accumulator_value}

    def _rule_arguments(self):
        return {"epsilon": self.epsilon}


@_register
class RMSprop(RuleOptimizer):
    """s <- rho s + (1 - rho) g^2, W <- W - eta g / sqrt(s + eps)
    (`update_rules.rmsprop`); = `keras.optimizers.RMSprop()`."""

    rule = staticmethod(update_rules.rmsprop)
    hyperparameters = ("rho", "epsilon")

    def __init__(
        self, learning_rate=0.001, rho=0.9, epsilon=1e-7, name="rmsprop",
        **kwargs,
    ):  # fmt: skip
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.rho = rho
        self.epsilon = epsilon


@_register
class Adam(RuleOptimizer):
    """Adam (`update_rules.adam`); = `keras.optimizers.Adam()`."""

    rule = staticmethod(update_rules.adam)
    hyperparameters = ("beta_1", "beta_2", "epsilon")

    def __init__(
        self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
        name="adam", **kwargs,
    ):  # fmt: skip
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon


@_register
class AdamW(Adam):
    """AdamW (`update_rules.adamw`); = `keras.optimizers.AdamW()`.

    The decoupled decay W <- W - eta lambda W is the rule's: the base
    class's own decay stays off (its `weight_decay` is None) and lambda is
    kept in `decoupled_weight_decay`; `get_config` names it weight_decay,
    the constructor argument.
    """

    rule = staticmethod(update_rules.adamw)

    def __init__(
        self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9,
        beta_2=0.999, epsilon=1e-7, name="adamw", **kwargs,
    ):  # fmt: skip
        super().__init__(
            learning_rate, beta_1, beta_2, epsilon, name=name, **kwargs
        )
        self.decoupled_weight_decay = weight_decay

    def _rule_arguments(self):
        return {
            **super()._rule_arguments(),
            "weight_decay": self.decoupled_weight_decay,
        }

    def get_config(self):
        config = super().get_config()
        config["weight_decay"] = self.decoupled_weight_decay
        return config


BY_NAME = {
    "sgd": SGD,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "adagrad": Adagrad,
    "rmsprop": RMSprop,
    "adam": Adam,
    "adamw": AdamW,
}
