"""One process of the "two processes, one request" tests (test_concurrency.py: one user
folder; test_team_records.py: two machines on one Redis): loads the pack, says it is ready,
waits until COUNT processes are, runs one LTX-2 19B Image to Video request on the stand-in
(SEGMIND_* from the environment) and prints what it got as one JSON line.

    python tests/request_child.py HOME OUT READY_DIR COUNT NAME BODY_JSON"""
from __future__ import annotations

import json
import pathlib
import sys
import time

import numpy as np

from pack_loader import pack_module
from runtimes import fresh_runtime


def main(argv: list[str]) -> None:
    home, out, ready, count, name, body = argv
    lifecycle = pack_module("core.lifecycle")
    runtime = pack_module("core.runtime")
    image_encode = pack_module("core.image_encode")
    rgb = (np.arange(48 * 64 * 3) % 251).astype(np.uint8).reshape(48, 64, 3)
    req = lifecycle.GenerationRequest(model="ltx-2-19b-i2v", image=image_encode.encode_image(rgb),
                                      body=json.loads(body))
    ready_dir = pathlib.Path(ready)
    (ready_dir / name).touch()
    while len(list(ready_dir.iterdir())) < int(count):  # start together, once every one is loaded
        time.sleep(0.005)
    with runtime.use(fresh_runtime()):
        clip = lifecycle.run_on_segmind(req, user_dir=home, output_dir=out)
    print(json.dumps({"request_id": clip.info.request_id, "from_cache": clip.from_cache, "path": str(clip.path)}))


if __name__ == "__main__":
    main(sys.argv[1:])
