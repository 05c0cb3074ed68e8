"""Layers: each one a forward and a hand-written backward (see ``base.Layer``).

    core.py           Dense, Flatten, Reshape, Dropout
    activations.py    ReLU, LeakyReLU, Sigmoid, Tanh, Softmax, GELU, ELU
    conv.py           Conv2D, MaxPool2D, AvgPool2D, GlobalAvgPool2D
    normalization.py  BatchNorm, LayerNorm
    recurrent.py      SimpleRNN, LSTM, GRU
    embedding.py      Embedding
    attention.py      MultiHeadAttention, SinusoidalPositionalEncoding, PositionalEmbedding,
                      TransformerBlock (and the function scaled_dot_product_attention)
    pointer.py        PointerGenerator (copying source words: See et al.'s pointer-generator)
    upsampling.py     UpSampling2D, Conv2DTranspose
    residual.py       Residual (a block of layers with a skip connection around it)
    merge.py          Concatenate (join arrays along the channels; backward slices the gradient)
    unet.py           UNet (an encoder-decoder with skip connections, for per-pixel labels)
    patches.py        PatchEmbedding, ClassToken, SelectToken (images as token sequences: ViT)
    lora.py           LoRA, LoRAAttention (a frozen Dense or attention plus trained low-rank updates)
    gaussian.py       GaussianSample (the reparameterised sample of a variational autoencoder)

Image layers take (N, C, H, W) batches, PyTorch's layout; sequences of feature vectors are
(N, T, D) for the recurrent and attention layers. Layers no chapter uses (1-D convolutions and
pools, depthwise and separable convolutions, the activations SELU, Swish, Softplus and ReLU6)
belong to libraries built on minidl, which extend ``conv.Convolution``, ``conv.Pooling`` and
``activations.ACTIVATIONS`` (docs/ARCHITECTURE.md, "Extending minidl").
"""

from .activations import ELU, GELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .attention import (
    MultiHeadAttention,
    PositionalEmbedding,
    SinusoidalPositionalEncoding,
    TransformerBlock,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
)
from .base import Layer
from .conv import AvgPool2D, Conv2D, GlobalAvgPool2D, MaxPool2D
from .core import Dense, Dropout, Flatten, Reshape
from .embedding import Embedding
from .gaussian import GaussianSample
from .lora import LoRA, LoRAAttention
from .merge import Concatenate
from .normalization import BatchNorm, LayerNorm
from .patches import ClassToken, PatchEmbedding, SelectToken
from .pointer import PointerGenerator
from .recurrent import GRU, LSTM, SimpleRNN
from .registry import LAYER_CLASSES
from .residual import Residual
from .unet import UNet
from .upsampling import Conv2DTranspose, UpSampling2D

__all__ = ["Layer", "LAYER_CLASSES", "Dense", "Dropout", "Flatten", "Reshape", "ReLU", "LeakyReLU", "Sigmoid"]
__all__ += ["Tanh", "Softmax", "GELU", "ELU", "Conv2D", "MaxPool2D", "AvgPool2D", "GlobalAvgPool2D"]
__all__ += ["BatchNorm", "LayerNorm", "SimpleRNN", "LSTM", "GRU", "Embedding", "MultiHeadAttention"]
__all__ += ["PositionalEmbedding", "SinusoidalPositionalEncoding", "TransformerBlock", "PointerGenerator"]
__all__ += ["causal_mask", "padding_mask", "scaled_dot_product_attention"]
__all__ += ["scaled_dot_product_attention_backward", "UpSampling2D", "Conv2DTranspose", "Residual"]
__all__ += ["Concatenate", "UNet", "PatchEmbedding", "ClassToken", "SelectToken", "LoRA", "LoRAAttention"]
__all__ += ["GaussianSample"]
