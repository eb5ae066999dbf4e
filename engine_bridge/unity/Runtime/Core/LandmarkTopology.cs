// UniFLG for Unity: the lines between the 70 OpenPose face points (for debug drawing). Plain C#.
namespace UniFLG.Face.Core
{
    /// <summary>OpenPose-70 face layout: jaw 0-16, right brow 17-21, left brow 22-26, nose 27-35, right eye
    /// 36-41, left eye 42-47, outer lip 48-59, inner lip 60-67, pupils 68 (right) and 69 (left); "right" is
    /// the subject's. Coordinates x right, y down, the voice's mean face in the unit square.</summary>
    public static class LandmarkTopology
    {
        public const int PointCount = 70;
        public const int RightPupil = 68;
        public const int LeftPupil = 69;

        /// <summary>(first, last, closed) runs of consecutive points drawn as polylines.</summary>
        static readonly int[,] Runs =
        {
            { 0, 16, 0 }, { 17, 21, 0 }, { 22, 26, 0 }, { 27, 30, 0 }, { 31, 35, 0 },
            { 36, 41, 1 }, { 42, 47, 1 }, { 48, 59, 1 }, { 60, 67, 1 },
        };

        static int[] _segments;

        /// <summary>Point index pairs (a0, b0, a1, b1, ...) of every line segment, plus the nose bridge to the
        /// nostrils (30-33).</summary>
        public static int[] Segments
        {
            get
            {
                if (_segments != null) return _segments;
                var list = new System.Collections.Generic.List<int>();
                for (int r = 0; r < Runs.GetLength(0); r++)
                {
                    int first = Runs[r, 0], last = Runs[r, 1];
                    for (int i = first; i < last; i++) { list.Add(i); list.Add(i + 1); }
                    if (Runs[r, 2] == 1) { list.Add(last); list.Add(first); }
                }
                list.Add(30); list.Add(33);
                _segments = list.ToArray();
                return _segments;
            }
        }
    }
}
