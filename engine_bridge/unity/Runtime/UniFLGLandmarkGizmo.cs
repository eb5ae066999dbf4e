// UniFLG for Unity: draws the 70 landmarks and their lines as gizmos (Scene view, or Game view with
// Gizmos on), for checking a stream before any rig is involved.
using UniFLG.Face.Core;
using UnityEngine;

namespace UniFLG.Face
{
    [AddComponentMenu("UniFLG/UniFLG Landmark Gizmo")]
    public sealed class UniFLGLandmarkGizmo : MonoBehaviour
    {
        [Tooltip("Receiver whose latest /uniflg frame is drawn (VMC frames carry no points).")]
        public UniFLGOscReceiver receiver;
        [Tooltip("Size of the unit square the landmarks live in, in local units.")]
        public float size = 0.2f;
        public Color pointColor = new Color(1f, 0.85f, 0.2f);
        public Color lineColor = new Color(0.2f, 0.9f, 1f);
        public Color pupilColor = Color.red;
        [Range(0.0005f, 0.02f)] public float pointRadius = 0.002f;

        float[] _points;

        /// <summary>Draw these points (x0, y0, ... in the unit square) instead of the receiver's, e.g. from gRPC.</summary>
        public void SetPoints(float[] points) { _points = points; }

        float[] Current()
        {
            if (receiver != null && receiver.LatestFrame != null && receiver.LatestFrame.Points != null)
                return receiver.LatestFrame.Points;
            return _points;
        }

        // Unit square (x right, y down) -> this transform's local XY plane (y up), centred on the origin.
        Vector3 World(float[] p, int i)
        {
            var local = new Vector3((p[2 * i] - 0.5f) * size, (0.5f - p[2 * i + 1]) * size, 0f);
            return transform.TransformPoint(local);
        }

        void OnDrawGizmos()
        {
            float[] p = Current();
            if (p == null || p.Length < 2 * LandmarkTopology.PointCount) return;
            Gizmos.color = lineColor;
            int[] seg = LandmarkTopology.Segments;
            for (int k = 0; k < seg.Length; k += 2) Gizmos.DrawLine(World(p, seg[k]), World(p, seg[k + 1]));
            for (int i = 0; i < LandmarkTopology.PointCount; i++)
            {
                bool pupil = i == LandmarkTopology.RightPupil || i == LandmarkTopology.LeftPupil;
                Gizmos.color = pupil ? pupilColor : pointColor;
                Gizmos.DrawSphere(World(p, i), pupil ? pointRadius * 2f : pointRadius);
            }
        }
    }
}
