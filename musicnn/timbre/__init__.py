"""Timbre maps: a Kohonen map of any folder of sounds, as pictures and as a page to listen to.

>>> from musicnn.timbre import build_map, project_sounds       # doctest: +SKIP
>>> result = build_map("sounds/", "maps/sounds")               # doctest: +SKIP
>>> project_sounds("maps/sounds/map.json", ["new.wav"])        # doctest: +SKIP

* :mod:`.sounds`: which sounds (labelled tree, manifest, data set, plain folder);
* :mod:`.descriptors`: one vector per sound (pooled features or a model's embedding);
* :mod:`.build`: sizing, training, outputs, projection of new sounds;
* :mod:`.mapfile`: the trained map and ``map.json``;
* :mod:`.plots`: ``map.png``, ``umatrix.png``, ``hits.png``;
* :mod:`.page`: ``map.html``.
"""

from musicnn.timbre.build import (
           OUTPUTS,
           BuildResult,
           Projection,
           build_map,
           parse_grid,
           project_sounds,
           suggest_grid,
)
from musicnn.timbre.descriptors import Descriptors
from musicnn.timbre.mapfile import TimbreMap, load_map

__all__ = ["OUTPUTS", "BuildResult", "Descriptors", "Projection", "TimbreMap", "build_map", "load_map", "parse_grid",
           "project_sounds", "suggest_grid"]
