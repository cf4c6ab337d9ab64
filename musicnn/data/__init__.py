"""Labelled data: collections, splits, and the embedded data sets."""

from musicnn.data.collection import MANIFEST_NAME, SPLITS, Collection, Item

__all__ = ["Collection", "Item", "SPLITS", "MANIFEST_NAME"]
