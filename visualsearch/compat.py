"""Make PyPI's torchvision 0.28.0 importable beside the CPU build of torch 2.13.0.

torchvision 0.28.0 on PyPI is built for CUDA. Beside the CPU torch wheel its C++ extension does
not load, so its import stops at ``register_fake("torchvision::nms")`` with "operator
torchvision::nms does not exist". Defining the missing operator schemas first lets torchvision
(and therefore open_clip and transformers' image utilities) import; the transforms work, while
``torchvision.ops`` stays unusable. Nothing is changed when the real ops are present.

Call :func:`ensure_torchvision` before importing torchvision, open_clip, timm or transformers.
"""

from __future__ import annotations

_SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}
_library = None  # keep the fragment alive for the life of the process


def _has_op(name: str) -> bool:
    import torch  # noqa: PLC0415

    try:
        torch._C._dispatch_find_schema_or_throw(f"torchvision::{name}", "")
    except RuntimeError:
        return False
    return True


def ensure_torchvision() -> bool:
    """Register missing torchvision op schemas. Returns True if it had to register any."""
    global _library
    import torch  # noqa: PLC0415

    missing = [name for name in _SCHEMAS if not _has_op(name)]
    if not missing:
        return False
    if _library is None:
        _library = torch.library.Library("torchvision", "FRAGMENT")
    for name in missing:
        _library.define(_SCHEMAS[name])
    return True
