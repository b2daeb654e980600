"""ComfyUI-free core of the pack: Segmind client, image encoding, video decoding,
credentials and caching. Nothing in here imports ComfyUI, torch, av or cv2 at
module load; heavy libraries are imported inside the functions that need them."""
