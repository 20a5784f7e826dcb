"""Reference library of the open course on reward modeling for language models.

The folder layout is the architecture, in the order the book teaches it:

* ``course_lib.data``: generated arithmetic word problems (:mod:`.arithmetic`), preference pairs
  (:mod:`.preferences`) and step labels (:mod:`.step_labels`), with loaders for real formats.
* ``course_lib.models``: tiny local GPT-2 backbones and ``distilgpt2`` loading (:mod:`.backbone`),
  pooling (:mod:`.pooling`), the scalar reward model and the neural PRM.
* ``course_lib.training``: the Bradley-Terry loss and training loop (:mod:`.reward_model`), PRM/ORM
  training on step labels (:mod:`.prm`).
* ``course_lib.credit_assignment``: step rewards and the heuristic PRM (:mod:`.process_reward`).
* ``course_lib.evaluation``: calibration and best-of-N selection.
* ``course_lib.plots``: the figures of the book and the main job.
"""

__version__ = "0.1.0"
