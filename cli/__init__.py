"""The command line's own modules (the entry point is the pack's __main__.py): where files
go, reading pictures and manifests, the cost plan, running clips in parallel with progress
bars, and the `jobs` / `collect` commands. Nothing here imports torch or ComfyUI."""
