"""Runs inside the video environment (.venv-video: mediapipe 0.10.21, numpy<2, protobuf<5, opencv).

    python worker.py INPUT OUT.npy

INPUT is a video or an image. Writes OUT.npy float32 [T, 478, 2] (Face Mesh points in pixels divided by the
image height, so x and y share one unit; NaN where no face was found) and OUT.json
{"fps", "width", "height", "frames", "missing"}. Standalone on purpose: it imports nothing from uniflg.
"""

from __future__ import annotations

import json
import sys


def main(src: str, dst: str) -> int:
    import cv2
    import mediapipe as mp
    import numpy as np

    image = cv2.imread(src, cv2.IMREAD_COLOR) if src.lower().endswith((".png", ".jpg", ".jpeg", ".bmp")) else None
    frames = [image] if image is not None else None
    fps = 30.0
    if frames is None:
        cap = cv2.VideoCapture(src)
        if not cap.isOpened():
            print(f"cannot open {src}", file=sys.stderr)
            return 2
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 30.0)
        frames = []
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(frame)
    if not frames:
        print(f"no frames in {src}", file=sys.stderr)
        return 2
    h, w = frames[0].shape[:2]
    out = np.full((len(frames), 478, 2), np.nan, np.float32)
    missing = []
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=image is not None, max_num_faces=1,
                                         refine_landmarks=True, min_detection_confidence=0.5) as mesh:
        for i, frame in enumerate(frames):
            res = mesh.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            if not res.multi_face_landmarks:
                missing.append(i)
                continue
            lm = res.multi_face_landmarks[0].landmark
            out[i, :, 0] = [p.x * w / h for p in lm]
            out[i, :, 1] = [p.y for p in lm]
    np.save(dst, out)
    meta = {"fps": fps, "width": w, "height": h, "frames": len(frames), "missing": missing}
    with open(dst[:-4] + ".json", "w") as fh:
        json.dump(meta, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
