"""Export a trained UniFLG model to a voice folder: split ONNX graphs (``onnx_export``) and TensorRT engines
(``tensorrt_build``); ``command`` adds ``uniflg export`` to the CLI. Graph names and axes come from
:mod:`uniflg.backends.graphs`; the traced wrapper modules from :mod:`uniflg.backends.modules`. Importing the
package imports none of them (``uniflg --help`` loads ``command`` only)."""
