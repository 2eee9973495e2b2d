"""Datasets and input pipelines (no torchvision: everything here is PIL / torch)."""

from .base import ArrayDataset, ImageDataset, sample_rng
from .builder import build_dataset
from .cifar import find_cifar, load_cifar
from .dense import CocoDetection, DenseDataset, DenseTarget, SegmentationFolder, collate_dense
from .fashion_mnist import FASHION_MNIST_CLASSES, fashion_mnist_dir, load_fashion_mnist
from .image_folder import ImageFolder
from .loader import build_loader, default_workers, set_position
from .mixup import Mixup, soft_target_cross_entropy
from .mosaic import FashionMnistMosaic
from .randaugment import RandAugment, rand_augment_transform
from .resolve import create_transform, resolve_data_config
from .synthetic import SyntheticDataset
from .transforms import build_eval_transform, build_train_transform

__all__ = [
    "CocoDetection",
    "DenseDataset",
    "DenseTarget",
    "FashionMnistMosaic",
    "SegmentationFolder",
    "collate_dense",
    "FASHION_MNIST_CLASSES",
    "ArrayDataset",
    "ImageDataset",
    "ImageFolder",
    "Mixup",
    "RandAugment",
    "SyntheticDataset",
    "build_dataset",
    "build_eval_transform",
    "build_loader",
    "build_train_transform",
    "create_transform",
    "default_workers",
    "fashion_mnist_dir",
    "find_cifar",
    "load_cifar",
    "load_fashion_mnist",
    "rand_augment_transform",
    "resolve_data_config",
    "sample_rng",
    "set_position",
    "soft_target_cross_entropy",
]
