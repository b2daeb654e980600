"""Node registry. Importing this stays cheap: node modules import torch, av and cv2
only inside their run functions."""
from .collect_job import SegmindLTX2CollectJob
from .common import SegmindLTX2Options
from .decode_video import SegmindLTX2DecodeVideo
from .fast_text_to_video import SegmindLTX2FastTextToVideo
from .image_to_video import SegmindLTX2ImageToVideo
from .join_clips import SegmindLTX2JoinClips
from .pro_image_to_video import SegmindLTX2ProImageToVideo
from .retake import SegmindLTX2Retake
from .text_to_video import SegmindLTX2TextToVideo

NODE_CLASS_MAPPINGS = {
    "SegmindLTX2ImageToVideo": SegmindLTX2ImageToVideo,
    "SegmindLTX2TextToVideo": SegmindLTX2TextToVideo,
    "SegmindLTX2ProImageToVideo": SegmindLTX2ProImageToVideo,
    "SegmindLTX2FastTextToVideo": SegmindLTX2FastTextToVideo,
    "SegmindLTX2DecodeVideo": SegmindLTX2DecodeVideo,
    "SegmindLTX2CollectJob": SegmindLTX2CollectJob,
    "SegmindLTX2JoinClips": SegmindLTX2JoinClips,
    "SegmindLTX2Retake": SegmindLTX2Retake,
    "SegmindLTX2Options": SegmindLTX2Options,
}

NODE_DISPLAY_NAME_MAPPINGS = {
    "SegmindLTX2ImageToVideo": "Segmind LTX-2 Image to Video",
    "SegmindLTX2TextToVideo": "Segmind LTX-2 Text to Video",
    "SegmindLTX2ProImageToVideo": "Segmind LTX-2 Pro Image to Video",
    "SegmindLTX2FastTextToVideo": "Segmind LTX-2 Fast Text to Video",
    "SegmindLTX2DecodeVideo": "Decode Video (lean, Segmind LTX-2)",
    "SegmindLTX2CollectJob": "Segmind LTX-2 Collect Job",
    "SegmindLTX2JoinClips": "Segmind LTX-2 Join Clips",
    "SegmindLTX2Retake": "Segmind LTX-2 Retake",
    "SegmindLTX2Options": "Segmind LTX-2 Options",
}
