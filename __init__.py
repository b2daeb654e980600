"""Segmind LTX-2 image-to-video nodes for ComfyUI.

ComfyUI imports this file as a module named after the pack's folder, beside its own
top-level `nodes`, `server`, `utils`, ... modules: everything inside is imported relatively."""
from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

WEB_DIRECTORY = "./web"


def _register_routes() -> None:
    from .comfy_host import register_routes

    try:
        register_routes()
    except Exception as exc:  # the settings route is a convenience; the nodes must still load
        print(f"[Segmind LTX-2] settings route not registered: {exc}")


_register_routes()

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]
