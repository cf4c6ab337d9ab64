"""Classify and embed audio files of any length, window by window.

:mod:`.windows` (window geometry, cutting a stream into windows), :mod:`.engine` (the
streaming, batching engine and its classify and embed front ends), :mod:`.writers`
(results files, timelines, embeddings).  Importing this package imports nothing.
"""
