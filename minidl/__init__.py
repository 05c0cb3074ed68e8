"""minidl: deep learning written by hand, readable first and fast second."""
__version__ = "0.1.0"

from . import backend
from .backend import seed
