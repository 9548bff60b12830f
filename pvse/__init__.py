"""PVSE (Polysemous Visual-Semantic Embedding, Song & Soleymani, CVPR 2019).

`pvse.pie_net` holds the Polysemous Instance Embedding network, `pvse.losses` the MIL ranking,
diversity and MMD losses, and `pvse.method` the `pvse` method; importing this package
registers it with the harness (the global encoders it shares with the baselines are
`mrw.methods.encoders`).
"""

from pvse import method as method  # registers `pvse`
