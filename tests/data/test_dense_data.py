"""A user's own dense data: an image folder with PNG class masks, and COCO-style boxes."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from visionmlp.data import CocoDetection, SegmentationFolder


def _segmentation_folder(root, names=True):
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for k in range(3):
        Image.fromarray(np.full((12, 16, 3), 40 * k, dtype=np.uint8)).save(root / "images" / f"im{k}.jpg")
        mask = np.zeros((12, 16), dtype=np.uint8)
        mask[2:6, 3:9] = k + 1
        mask[0, 0] = 255  # ignored
        Image.fromarray(mask).save(root / "masks" / f"im{k}.png")
    if names:
        (root / "classes.txt").write_text("background\ncat\ndog\nbird\n")


def test_segmentation_folder_reads_images_masks_and_names(tmp_path):
    _segmentation_folder(tmp_path)
    data = SegmentationFolder(tmp_path)
    assert len(data) == 3 and data.classes == ("background", "cat", "dog", "bird")
    image, target = data[2]
    assert image.shape == (3, 12, 16) and target.mask.shape == (12, 16)
    assert target.mask[3, 4] == 3 and target.mask[0, 0] == 255 and len(target.boxes) == 0


def test_segmentation_folder_without_names_counts_the_classes(tmp_path):
    _segmentation_folder(tmp_path, names=False)
    assert SegmentationFolder(tmp_path, channels=1).classes == ("class_0", "class_1", "class_2", "class_3")


def test_segmentation_folder_names_what_is_missing(tmp_path):
    _segmentation_folder(tmp_path)
    (tmp_path / "masks" / "im1.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"im1\.jpg has no mask .*im1\.png"):
        SegmentationFolder(tmp_path)
    with pytest.raises(FileNotFoundError, match="needs images/ and masks/"):
        SegmentationFolder(tmp_path / "nowhere")


def test_coco_boxes_become_corner_boxes_with_contiguous_classes(tmp_path):
    (tmp_path / "images").mkdir()
    Image.new("RGB", (40, 30)).save(tmp_path / "images" / "a.png")
    Image.new("RGB", (40, 30)).save(tmp_path / "images" / "b.png")
    doc = {
        "images": [{"id": 7, "file_name": "a.png"}, {"id": 9, "file_name": "b.png"}],
        "categories": [{"id": 18, "name": "dog"}, {"id": 3, "name": "car"}],
        "annotations": [
            {"id": 1, "image_id": 7, "bbox": [5, 4, 10, 8], "category_id": 18, "iscrowd": 0},
            {"id": 2, "image_id": 7, "bbox": [0, 0, 40, 30], "category_id": 3, "iscrowd": 1},
            {"id": 3, "image_id": 7, "bbox": [20, 10, 5, 5], "category_id": 3},
        ],
    }
    (tmp_path / "annotations.json").write_text(json.dumps(doc))
    data = CocoDetection(tmp_path)
    assert data.classes == ("car", "dog") and len(data) == 2
    image, target = data[0]
    assert image.shape == (3, 30, 40) and target.mask is None
    assert torch.equal(target.boxes, torch.tensor([[5.0, 4, 15, 12], [20, 10, 25, 15]]))  # the crowd box left out
    assert target.labels.tolist() == [1, 0]
    assert len(data[1][1].boxes) == 0
    doc["annotations"].append({"id": 4, "image_id": 7, "bbox": [1, 1, 2, 2], "category_id": 99})
    (tmp_path / "annotations.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="annotation 4 names an unknown category"):
        CocoDetection(tmp_path)
