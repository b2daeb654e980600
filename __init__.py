"""Segmind LTX-2 image-to-video nodes for ComfyUI.

ComfyUI imports this file as a module named after the pack's folder, beside its own
top-level `nodes`, `server`, `utils`, ... modules: everything inside is imported relatively."""
from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

WEB_DIRECTORY = "./web"


def _register_routes() -> None:
    """The HTTP routes (a face of the core, like the nodes) on ComfyUI's server, given the
    host's folders and the names it answers to; nothing outside ComfyUI."""
    from . import comfy_host

    table = comfy_host.route_table()
    if table is None:
        return
    try:
        from .routes import allowed_host_names, register_routes

        register_routes(table, comfy_host.user_directory, comfy_host.output_directory,
                        lambda: allowed_host_names(comfy_host.listen_addresses()))
    except Exception as exc:  # the settings route is a convenience; the nodes must still load
        print(f"[Segmind LTX-2] settings route not registered: {exc}")


_register_routes()

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]
