"""Model families for `experiments.train`; each module registers its specs
with `experiments.registry.register`."""
