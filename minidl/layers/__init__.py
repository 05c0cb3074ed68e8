"""Layers: each one a forward and a hand-written backward (see ``base.Layer``).

    core.py           Dense, Flatten, Reshape, Dropout
    activations.py    ReLU, LeakyReLU, Sigmoid, Tanh, Softmax, GELU
    conv.py           Conv2D, MaxPool2D, AvgPool2D, GlobalAvgPool2D
    normalization.py  BatchNorm, LayerNorm
    recurrent.py      SimpleRNN, LSTM, GRU
    embedding.py      Embedding
    upsampling.py     UpSampling2D, Conv2DTranspose
"""
from .base import LAYER_CLASSES, Layer
from .core import Dense, Dropout, Flatten, Reshape
from .activations import GELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .conv import AvgPool2D, Conv2D, GlobalAvgPool2D, MaxPool2D
from .normalization import BatchNorm, LayerNorm
from .recurrent import GRU, LSTM, SimpleRNN
from .embedding import Embedding
from .upsampling import Conv2DTranspose, UpSampling2D

__all__ = ["Layer", "LAYER_CLASSES", "Dense", "Dropout", "Flatten", "Reshape",
           "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "GELU",
           "Conv2D", "MaxPool2D", "AvgPool2D", "GlobalAvgPool2D", "BatchNorm", "LayerNorm",
           "SimpleRNN", "LSTM", "GRU", "Embedding", "UpSampling2D", "Conv2DTranspose"]
