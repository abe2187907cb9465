"""The training room: loop, devices, AMP, DDP, checkpoints + resume, metrics.jsonl, TensorBoard.

Import the pieces from their modules (``gan_bokeh.train.loop.train``, ``gan_bokeh.train.config.TrainConfig``,
``gan_bokeh.train.checkpoint.load_generator``); this package import stays light.
"""
