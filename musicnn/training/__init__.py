"""The one loop that trains every torch model, with what it needs around it.

:mod:`.loop` (epochs, evaluation, schedules, the run itself), :mod:`.config` (the run's
settings, :class:`~.config.TrainConfig`, and its :class:`~.config.TrainHistory`),
:mod:`.batches` (validation split, mini-batches, class weights), :mod:`.early_stopping`
(the one stopping rule), :mod:`.checkpoint` (the state written for resume),
:mod:`.distributed` (DDP), :mod:`.augment` (SpecAugment and mixup on feature batches).
``config``, ``batches`` and ``early_stopping`` import no torch: the numpy reference
back-propagation of the MLP shares them.  Importing this package imports nothing: the
numpy families import their checks from :mod:`musicnn.checks`, never from here.
"""
