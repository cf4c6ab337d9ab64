"""The one loop that trains every torch model, with what it needs around it.

:mod:`.loop` (batches, validation, early stopping, schedules), :mod:`.checkpoint`
(the state written for resume), :mod:`.distributed` (DDP), :mod:`.augment`
(SpecAugment and mixup on feature batches).  Importing this package imports nothing:
the numpy families import their checks from :mod:`musicnn.checks`, never from here.
"""
