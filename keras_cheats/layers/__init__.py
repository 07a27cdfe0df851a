"""Capsule-network layers of cheat-sheet section 7.3.2 (Sabour, Frosst and
Hinton 2017): squash, primary capsules, digit capsules with routing by
agreement, capsule length and masking; the VAE's sampling layer;
scaled dot-product attention, the ViT's patch, class and position tokens
and the pre-norm Transformer block (7.5); the restricted Boltzmann machine
(7.4.5); the mixture-of-experts layer with its gating (8.2); graph
convolution, graph attention, message passing and readout over batched
graphs (7.6); the neural Turing machine cell and its addressing (7.7.2);
the ODE block and its solvers (7.7.3); the learnt-temperature
contrastive logits of the CLIP model (7.7.4); the self-organizing map
(7.9)."""

from keras_cheats.layers.attention import scaled_dot_product_attention
from keras_cheats.layers.contrastive_logits import ContrastiveLogits
from keras_cheats.layers.digit_capsules import DigitCapsules
from keras_cheats.layers.graph_attention import GraphAttention
from keras_cheats.layers.graph_conv import GraphConv
from keras_cheats.layers.graphs import (
    GraphBatch,
    disjoint_union,
    gcn_edge_weights,
    segment_softmax,
)
from keras_cheats.layers.length import Length
from keras_cheats.layers.mask import Mask
from keras_cheats.layers.message_passing import GraphReadout, MessagePassing
from keras_cheats.layers.moe import MixtureOfExperts
from keras_cheats.layers.moe_gating import (
    expert_capacity,
    importance_loss,
    keep_within_capacity,
    switch_balance_loss,
    top_k_gates,
)
from keras_cheats.layers.ntm_cell import NTMCell
from keras_cheats.layers.ode_block import ODEBlock, ODEFunc
from keras_cheats.layers.ode_solvers import (
    odeint_dopri5,
    odeint_rk4,
    rk4_step,
)
from keras_cheats.layers.patches import (
    ClassToken,
    PatchEmbedding,
    PositionEmbedding,
)
from keras_cheats.layers.primary_capsules import PrimaryCapsules
from keras_cheats.layers.rbm import RBM, sample_bernoulli
from keras_cheats.layers.routing import routing_by_agreement
from keras_cheats.layers.sampling import Sampling, reparameterize
from keras_cheats.layers.som import SelfOrganizingMap, som_update
from keras_cheats.layers.squash import Squash, safe_norm, squash
from keras_cheats.layers.transformer_block import TransformerBlock

__all__ = [
    "ClassToken",
    "ContrastiveLogits",
    "GraphAttention",
    "GraphBatch",
    "GraphConv",
    "GraphReadout",
    "MessagePassing",
    "NTMCell",
    "ODEBlock",
    "ODEFunc",
    "SelfOrganizingMap",
    "disjoint_union",
    "gcn_edge_weights",
    "odeint_dopri5",
    "odeint_rk4",
    "rk4_step",
    "segment_softmax",
    "som_update",
    "MixtureOfExperts",
    "PatchEmbedding",
    "PositionEmbedding",
    "RBM",
    "TransformerBlock",
    "expert_capacity",
    "importance_loss",
    "keep_within_capacity",
    "sample_bernoulli",
    "scaled_dot_product_attention",
    "switch_balance_loss",
    "top_k_gates",
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
