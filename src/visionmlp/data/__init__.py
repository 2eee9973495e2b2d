"""Datasets and input pipelines (no torchvision: everything here is PIL / torch)."""

from .fashion_mnist import FASHION_MNIST_CLASSES, fashion_mnist_dir, load_fashion_mnist

__all__ = ["FASHION_MNIST_CLASSES", "fashion_mnist_dir", "load_fashion_mnist"]
