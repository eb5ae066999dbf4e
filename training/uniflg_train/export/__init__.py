"""Export a trained UniFLG model to a voice folder: split ONNX graphs (``onnx_export``) and TensorRT engines
(``tensorrt_build``); ``command`` adds ``uniflg export`` to the CLI. Graph names and axes come from
:mod:`uniflg.backends.graphs`; the traced wrapper modules from :mod:`uniflg.backends.modules`."""

from uniflg_train.export.onnx_export import export_onnx, load_source_model

__all__ = ["export_onnx", "load_source_model"]
