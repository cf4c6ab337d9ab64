"""Recipes: one task end to end from a TOML file (data, split, features, model, training).

:func:`load_recipe` reads and checks a recipe (a shipped name or a path) and applies
``table.key=VALUE`` overrides; :func:`run_recipe` runs it into a run folder;
:func:`compare` trains several families on its data and split and writes a leaderboard.
"""

from musicnn.recipes.compare import Leaderboard, compare
from musicnn.recipes.run import RecipeRun, default_data_dir, resolve_data, run_recipe
from musicnn.recipes.spec import SCHEMA, Recipe, apply_overrides, load_recipe

__all__ = ["SCHEMA", "Leaderboard", "Recipe", "RecipeRun", "apply_overrides", "compare", "default_data_dir",
           "load_recipe", "resolve_data", "run_recipe"]
