"""The baselines PVSE is compared with, each registered with the harness on import: DeViSE,
VSE++, Order embeddings, Corr-AE and the dual-path network with instance loss; and the
CLIP-family rows (`baselines.clip`: zero-shot CLIP and CLIP4Clip, the `clip` extra;
`baselines.xclip`: zero-shot X-CLIP, the `xclip` extra).

`baselines.common` holds what several of them share (pooling, word vectors, the hinge ranking
loss); the global encoders they share with PVSE are `mrw.methods.encoders`.
"""

from baselines import clip, corr_ae, devise, dual_path, order, vsepp, xclip

__all__ = ["clip", "corr_ae", "devise", "dual_path", "order", "vsepp", "xclip"]
