"""Synthetic datasets in the published layouts (DATA_FACTS 1.1-1.3, 2.7, 3, 4, 5), one module per dataset.

``w300lp`` (300W-LP), ``aflw2000`` (AFLW2000-3D), ``biwi`` (BIWI + KD-OE's BIWI.json boxes), ``eth_xgaze``
(ETH-XGaze 224 px patches); what they share: ``files`` (atomic writes, JPEG / PNG / MAT bytes, merged JSON index
files) and ``samples`` (per-sample seeding, the 450x450 render, ground truth, boxes, progress).
``hmtl_tf.data.synthetic.write.write_datasets`` writes all four.
"""
