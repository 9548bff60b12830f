"""PVSE (Polysemous Visual-Semantic Embedding, Song & Soleymani, CVPR 2019).

`pvse.encoders` holds the global encoders every method shares (video/text biGRU, image fc),
`pvse.pie_net` the Polysemous Instance Embedding network, `pvse.losses` the MIL ranking,
diversity and MMD losses, and `pvse.method` the `pvse` method registered with the harness.
"""
