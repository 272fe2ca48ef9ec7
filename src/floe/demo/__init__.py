"""The live e-commerce demo: a project from the ``ecommerce`` template, batch after batch.

``project`` creates (or finds) the demo project; ``loop`` lands batches by running the
pipeline, measuring growth after each; ``marts`` reads what the warehouse holds now.
"""
