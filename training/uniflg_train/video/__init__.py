"""Face video -> 70 OpenPose points via MediaPipe Face Mesh 0.10.21, run in its own environment."""
