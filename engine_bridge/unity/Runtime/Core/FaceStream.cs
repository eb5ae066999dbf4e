// UniFLG for Unity: turns decoded OSC packets into face frames. Plain C#, no UnityEngine.
//
// Two inputs are understood (docs/osc.md in the UniFLG repository):
//  * the raw address space of `uniflg serve --osc`: /uniflg/stream/start, then one bundle per frame
//    (/uniflg/frame, /uniflg/landmarks, /uniflg/blend/<ARKit name>...), then /uniflg/stream/end. A frame over the
//    sender's datagram limit (1,400 bytes by default) comes as several bundles with the same time tag, each
//    opening with the frame's /uniflg/frame message; the decoder merges them by (stream id, index);
//  * the VMC protocol of `uniflg serve --vmc` (or any VMC performer): /VMC/Ext/T, /VMC/Ext/Blend/Val
//    (name, value) pairs, then /VMC/Ext/Blend/Apply, bundled or as separate datagrams.
using System;
using System.Collections.Generic;

namespace UniFLG.Face.Core
{
    public enum FrameSource { UniFLG, Vmc }

    /// <summary>Something the decoder produced: a frame, a stream start or a stream end.</summary>
    public abstract class FaceEvent
    {
        /// <summary>The stream: the gRPC request id for /uniflg, "vmc" for VMC.</summary>
        public string StreamId;
    }

    /// <summary>One face frame. <see cref="TimeCode"/> is seconds from the stream start on the audio sample
    /// clock (index / fps for /uniflg; /VMC/Ext/T for VMC, NaN when the sender gave none).</summary>
    public sealed class FaceFrame : FaceEvent
    {
        public FrameSource Source;
        public long Index = -1;
        public double TimeCode = double.NaN;
        /// <summary>The enclosing bundle's time tag (presentation time for /uniflg; "immediately" for VMC).</summary>
        public OscTimeTag TimeTag = new OscTimeTag(1UL);
        /// <summary>x0, y0, ..., x69, y69 (OpenPose-70, x right, y down, unit square); null for VMC.</summary>
        public float[] Points;
        /// <summary>Blendshape weights in [0, 1] by sender name (ARKit camelCase for /uniflg; VRM0 presets and
        /// perfect-sync PascalCase ARKit names for VMC).</summary>
        public readonly Dictionary<string, float> Weights = new Dictionary<string, float>();
        /// <summary>True for the synthetic frame that marks a stream's end: return the face to neutral.</summary>
        public bool IsEnd;
    }

    public sealed class StreamStarted : FaceEvent
    {
        public int SampleRate;
        public int Fps;
        public string Layout;
        public int PointCount;
    }

    public sealed class StreamEnded : FaceEvent
    {
        public int FrameCount;
    }

    /// <summary>Stateful decoder: VMC values and the parts of a split /uniflg frame may span datagrams. Not
    /// thread-safe: use one per socket thread.
    ///
    /// A /uniflg frame is handed out once whole: when it has its landmarks and as many blendshape weights as the
    /// stream's earlier frames had (or, for a stream's first frame, the last stream's frames), so as soon as its
    /// last part arrives; else when the stream's next frame or its end arrives, or on <see cref="Flush"/> (call it
    /// when the socket has been quiet, e.g. on a receive timeout). Only the very first frame a decoder sees waits
    /// like that (one frame period), since nothing tells it yet how many parts a frame has. A part that arrives
    /// after its frame was handed out (UDP reordering) is dropped and counted in <see cref="LateParts"/>.</summary>
    public sealed class FaceStreamDecoder
    {
        public const string VmcStreamId = "vmc";
        const string BlendPrefix = "/uniflg/blend/";
        const int MaxStreams = 64;   // streams tracked at once; more (a misbehaving sender) resets the tracking

        readonly Dictionary<string, float> _vmcPending = new Dictionary<string, float>();
        double _vmcTime = double.NaN;
        readonly Dictionary<string, int> _fps = new Dictionary<string, int>();
        readonly Dictionary<string, FaceFrame> _open = new Dictionary<string, FaceFrame>();      // being assembled
        readonly Dictionary<string, FaceFrame> _handed = new Dictionary<string, FaceFrame>();    // last handed out
        readonly Dictionary<string, int> _weightsPerFrame = new Dictionary<string, int>();       // learned per stream
        int _lastWeightsPerFrame = -1;   // learned from the latest stream, for a new stream's first frame (-1: none)

        /// <summary>Packets that could not be decoded (counted, never thrown).</summary>
        public int Malformed { get; private set; }
        /// <summary>Messages whose address is neither /uniflg/... nor a VMC blendshape message.</summary>
        public int Ignored { get; private set; }
        /// <summary>Parts of split frames that arrived after their frame was handed out (dropped).</summary>
        public int LateParts { get; private set; }
        /// <summary>Frames being assembled from parts (not yet handed out).</summary>
        public int Pending { get { return _open.Count; } }

        /// <summary>Hands out every frame still being assembled (as far as its parts arrived).</summary>
        public void Flush(List<FaceEvent> output)
        {
            foreach (string stream in new List<string>(_open.Keys)) HandOut(stream, output);
        }

        /// <summary>Decodes one datagram and appends what it produced to <paramref name="output"/>.</summary>
        public void Feed(byte[] datagram, int count, List<FaceEvent> output)
        {
            OscPacket packet;
            try { packet = OscParser.Parse(datagram, 0, count); }
            catch (OscFormatException) { Malformed++; return; }
            try { Walk(packet, new OscTimeTag(1UL), output); }
            catch (OscFormatException) { Malformed++; }
        }

        void Walk(OscPacket packet, OscTimeTag tag, List<FaceEvent> output)
        {
            var bundle = packet as OscBundle;
            if (bundle == null) { Message((OscMessage)packet, tag, null, output); return; }
            FaceFrame frame = null;   // a /uniflg frame bundle (or part): /uniflg/frame opens it
            bool late = false;
            foreach (OscPacket element in bundle.Elements)
            {
                var message = element as OscMessage;
                if (message == null) { Walk(element, ((OscBundle)element).TimeTag, output); continue; }
                if (message.Address == "/uniflg/frame")
                {
                    Settle(frame, late, output);
                    frame = Part(message, bundle.TimeTag, output, out late);
                    continue;
                }
                Message(message, bundle.TimeTag, frame, output);
            }
            Settle(frame, late, output);
        }

        /// <summary>The frame a part opened by <paramref name="m"/> belongs to: the one being assembled for its
        /// (stream id, index), else a new one (handing out the stream's previous frame); a scratch frame when its
        /// frame was already handed out (<paramref name="late"/>).</summary>
        FaceFrame Part(OscMessage m, OscTimeTag tag, List<FaceEvent> output, out bool late)
        {
            string stream = m.GetString(0);
            long index = m.GetInt(1);
            float timeCode = m.GetFloat(2);
            var part = new FaceFrame
            {
                Source = FrameSource.UniFLG, StreamId = stream, Index = index, TimeCode = timeCode, TimeTag = tag,
            };
            FaceFrame frame;
            late = _handed.TryGetValue(stream, out frame) && frame.Index == index;
            if (late) return part;   // its frame is gone: read it into scratch, touch nothing being assembled
            if (_open.TryGetValue(stream, out frame))
            {
                if (frame.Index == index) return frame;
                HandOut(stream, output);   // the next frame began: the previous one has all it will get
            }
            if (_open.Count >= MaxStreams) Flush(output);
            _open[stream] = part;
            return part;
        }

        /// <summary>After a frame's part: hand the frame out if it is whole; learn from a late part that the
        /// stream's frames are larger than the one handed out.</summary>
        void Settle(FaceFrame frame, bool late, List<FaceEvent> output)
        {
            if (frame == null) return;
            string stream = frame.StreamId;
            if (late)
            {
                LateParts++;
                FaceFrame handed;
                if (_handed.TryGetValue(stream, out handed)) Learn(stream, handed.Weights.Count + frame.Weights.Count);
                return;
            }
            int expected;
            if (!_weightsPerFrame.TryGetValue(stream, out expected)) expected = _lastWeightsPerFrame;
            if (frame.Points != null && expected >= 0 && frame.Weights.Count >= expected) HandOut(stream, output);
        }

        void HandOut(string stream, List<FaceEvent> output)
        {
            FaceFrame frame;
            if (!_open.TryGetValue(stream, out frame)) return;
            _open.Remove(stream);
            if (_handed.Count >= MaxStreams && !_handed.ContainsKey(stream)) { _handed.Clear(); _weightsPerFrame.Clear(); }
            _handed[stream] = frame;
            Learn(stream, frame.Weights.Count);
            output.Add(frame);
        }

        void Learn(string stream, int weights)
        {
            int known;
            if (!_weightsPerFrame.TryGetValue(stream, out known) || weights > known) _weightsPerFrame[stream] = weights;
            _lastWeightsPerFrame = _weightsPerFrame[stream];
        }

        void Message(OscMessage m, OscTimeTag tag, FaceFrame frame, List<FaceEvent> output)
        {
            string a = m.Address;
            if (a == "/VMC/Ext/Blend/Val") { _vmcPending[m.GetString(0)] = m.GetNumber(1); return; }
            if (a == "/VMC/Ext/Blend/Apply") { output.Add(VmcFrame(tag)); return; }
            if (a == "/VMC/Ext/T") { _vmcTime = m.GetNumber(0); return; }
            if (a == "/uniflg/landmarks" && frame != null)
            {
                var points = new float[m.Args.Length];
                for (int k = 0; k < points.Length; k++) points[k] = m.GetFloat(k);
                frame.Points = points;
                return;
            }
            if (a.StartsWith(BlendPrefix, StringComparison.Ordinal) && frame != null)
            {
                frame.Weights[a.Substring(BlendPrefix.Length)] = m.GetFloat(0);
                return;
            }
            if (a == "/uniflg/stream/start")
            {
                var s = new StreamStarted
                {
                    StreamId = m.GetString(0), SampleRate = m.GetInt(1), Fps = m.GetInt(2),
                    Layout = m.GetString(3), PointCount = m.GetInt(4),
                };
                _fps[s.StreamId] = s.Fps;
                output.Add(s);
                return;
            }
            if (a == "/uniflg/stream/end")
            {
                var e = new StreamEnded { StreamId = m.GetString(0), FrameCount = m.GetInt(1) };
                HandOut(e.StreamId, output);   // the stream's last frame is whole now
                _handed.Remove(e.StreamId);
                _weightsPerFrame.Remove(e.StreamId);
                output.Add(e);
                int fps;
                double time = _fps.TryGetValue(e.StreamId, out fps) && fps > 0 ? (double)e.FrameCount / fps : double.NaN;
                _fps.Remove(e.StreamId);
                output.Add(new FaceFrame { Source = FrameSource.UniFLG, StreamId = e.StreamId, Index = e.FrameCount,
                                           TimeCode = time, IsEnd = true });
                return;
            }
            Ignored++;   // other VMC traffic (bones, root, OK, ...) and unknown addresses
        }

        FaceFrame VmcFrame(OscTimeTag tag)
        {
            var f = new FaceFrame { Source = FrameSource.Vmc, StreamId = VmcStreamId, TimeCode = _vmcTime, TimeTag = tag };
            foreach (var kv in _vmcPending) f.Weights[kv.Key] = kv.Value;
            _vmcPending.Clear();   // VMC performers resend every value each frame
            _vmcTime = double.NaN;
            return f;
        }
    }
}
