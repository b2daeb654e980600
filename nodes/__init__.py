"""Node registry. Importing this stays cheap: node modules import torch, av and cv2
only inside their run functions."""
from .image_to_video import SegmindLTX2ImageToVideo

NODE_CLASS_MAPPINGS = {
    "SegmindLTX2ImageToVideo": SegmindLTX2ImageToVideo,
}

NODE_DISPLAY_NAME_MAPPINGS = {
    "SegmindLTX2ImageToVideo": "Segmind LTX-2 Image to Video",
}
