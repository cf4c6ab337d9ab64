"""Classify and embed audio files of any length, window by window.

Importing this package imports nothing; see :mod:`.engine`.
"""
